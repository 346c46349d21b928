"""Where research run folders live when the job ran elsewhere, and how they come home.

A research command writes its run folder where it runs (``runs/`` under its working directory).
With ``RAYTRADE_STORAGE`` set, it then copies the folder there and prints
``run folder stored at: LOCATION``: a path (a shared filesystem) or a URI pyarrow's filesystems
take (``file:///...``, ``s3://bucket/prefix``, ``gs://...``), as Ray Tune's ``storage_path`` does.
A job submitted through the Jobs API always gets a storage: the one given, else
:data:`DEFAULT_JOB_STORAGE` on the head node (outside Ray's per-job working-directory cache,
which is deleted with the job's runtime environment).

``raytrade research fetch JOB`` reads that line from the job's logs and copies the folder home:
directly when the location is reachable from here (a URI, or a path this machine sees), else
through a small helper job on the cluster that sends the folder back as a base64 tar in its logs.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import io
import shlex
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path
from typing import Any

from raytrade.core.errors import ClusterError

STORAGE_ENV = "RAYTRADE_STORAGE"
DEFAULT_JOB_STORAGE = "/tmp/ray/raytrade-runs"
MARKER = "run folder stored at: "
BEGIN, END, MISSING = "RAYTRADE-FETCH-BEGIN", "RAYTRADE-FETCH-END", "RAYTRADE-FETCH-MISSING"


def _filesystem(location: str) -> tuple[Any, str]:
    import pyarrow.fs as pafs

    if "://" in location:
        try:
            return pafs.FileSystem.from_uri(location)
        except Exception as exc:  # pyarrow's errors name the scheme; one line for the user
            raise ClusterError(f"storage {location!r}: {exc}") from None
    return pafs.LocalFileSystem(), str(Path(location).expanduser().resolve())


def store(folder: Path, storage: str) -> str:
    """Copy the run folder ``folder`` into ``storage``; return where it now is (``storage/NAME``)."""
    import pyarrow.fs as pafs

    fs, base = _filesystem(storage)
    dest = f"{base.rstrip('/')}/{folder.name}"
    fs.create_dir(dest, recursive=True)
    pafs.copy_files(str(folder.resolve()), dest, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs)
    return f"{storage.rstrip('/')}/{folder.name}"


def stored_location(logs: str) -> str | None:
    """The last ``run folder stored at:`` location a job printed, or None."""
    found = [ln.split(MARKER, 1)[1].strip() for ln in logs.splitlines() if MARKER in ln]
    return found[-1] if found else None


def reachable(location: str) -> bool:
    """Whether this machine can read ``location`` directly (a URI, or a path that exists here)."""
    if "://" in location and not location.startswith("file://"):
        return True
    path = location.removeprefix("file://")
    return Path(path).expanduser().is_dir()


def fetch_direct(location: str, into: Path) -> Path:
    """Copy the run folder at ``location`` into ``into/NAME``; return it."""
    import pyarrow.fs as pafs

    fs, src = _filesystem(location)
    info = fs.get_file_info(src)
    if info.type != pafs.FileType.Directory:
        raise ClusterError(f"no run folder at {location}")
    dest = into / Path(src.rstrip("/")).name
    dest.mkdir(parents=True, exist_ok=True)
    pafs.copy_files(src, str(dest.resolve()), source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem())
    return dest


_SEND = (
    "import base64,io,pathlib,sys,tarfile\n"
    "p=pathlib.Path(sys.argv[1])\n"
    "if not p.is_dir():\n"
    f"    print('{MISSING}'); sys.exit(3)\n"
    "b=io.BytesIO()\n"
    "with tarfile.open(fileobj=b,mode='w:gz') as t: t.add(str(p),arcname=p.name)\n"
    "d=base64.b64encode(b.getvalue()).decode()\n"
    f"print('{BEGIN}')\n"
    "for i in range(0,len(d),76): print(d[i:i+76])\n"
    f"print('{END}')\n"
)


def sender_entrypoint(path: str) -> str:
    """The helper job's command: Python's standard library only, so any cluster node runs it."""
    return f"python -c {shlex.quote(_SEND)} {shlex.quote(path)}"


def unpack(logs: str, into: Path, location: str) -> Path:
    """The run folder a helper job sent in its logs, unpacked into ``into``; return it."""
    lines = [ln.strip() for ln in logs.splitlines()]   # whole lines: Ray's log echoes the job's command
    if MISSING in lines:
        raise ClusterError(f"no run folder at {location} on the cluster (removed, or the head node restarted)")
    try:
        start, stop = lines.index(BEGIN), lines.index(END)
    except ValueError:
        raise ClusterError(f"the helper job did not send the run folder at {location}: {logs[-500:]}") from None
    try:
        data = base64.b64decode("".join(lines[start + 1:stop]), validate=True)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            names = {m.name.split("/", 1)[0] for m in tar.getmembers()}
            if len(names) != 1:
                raise ClusterError(f"the helper job sent {sorted(names)}, not one run folder")
            (name,) = names
            # unpacked beside the folder first: a transfer that breaks half way leaves a copy
            # already here as it was
            into.mkdir(parents=True, exist_ok=True)
            partial = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=into))
            try:
                tar.extractall(partial, filter="data")
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)
                raise
    except (binascii.Error, ValueError, tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise ClusterError(f"the run folder at {location} came back damaged in the helper job's logs "
                           f"({type(exc).__name__}: {exc}); run the fetch again") from None
    if (into / name).exists():
        shutil.rmtree(into / name)
    (partial / name).rename(into / name)
    partial.rmdir()
    return into / name
