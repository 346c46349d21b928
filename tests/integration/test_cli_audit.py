"""`raytrade audit verify|export` as a user runs them, against PostgreSQL and the default SQLite store."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from raytrade.core import Event, EventType
from raytrade.storage import SQLiteEventStore
from raytrade.storage.postgres import PostgresEventStore
from tests.storage.conftest import PG_URL, pg_schema

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration]
T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)


def cli(*args: str, env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess:
    """The command in a subprocess; ``env`` adds variables, or removes those given None (the
    shared Ray fixture sets a test audit key in this process's environment)."""
    merged = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "raytrade.cli", *args], capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in merged.items() if v is not None})


def events(n: int) -> list[Event]:
    return [Event(EventType.CASH_CHANGED, "trader", f"deposit {i}", {"amount": 10.5 + i},
                  T0 + timedelta(days=i))
            for i in range(n)]


def test_verify_and_export_on_postgres_and_tampering_is_named() -> None:
    schema = pg_schema()

    async def setup() -> None:
        async with PostgresEventStore(PG_URL, schema=schema) as s:
            await s.append(events(30))

    async def tamper() -> None:
        conn = await asyncpg.connect(PG_URL)
        try:
            await conn.execute("SET session_replication_role = replica")
            await conn.execute(f"UPDATE {schema}.events SET payload = '{{\"i\":17,\"price\":99.0}}' WHERE seq = 18")
        finally:
            await conn.close()

    async def drop() -> None:
        async with PostgresEventStore(PG_URL, schema=schema) as s:
            await s.drop_schema()

    asyncio.run(setup())
    try:
        ok = cli("audit", "verify", "--database-url", PG_URL, "--schema", schema)
        assert ok.returncode == 0, ok.stderr
        assert "intact: 30 records" in ok.stdout
        exported = cli("audit", "export", "--database-url", PG_URL, "--schema", schema,
                       "--from", "2024-05-03", "--to", "2024-05-06")
        assert exported.returncode == 0, exported.stderr
        lines = [json.loads(x) for x in exported.stdout.splitlines()]
        assert [x["sequence"] for x in lines] == [3, 4, 5]
        assert set(lines[0]) == {"sequence", "timestamp", "type", "principal", "reason", "payload", "prev_hash", "hash"}
        asyncio.run(tamper())
        bad = cli("audit", "verify", "--database-url", PG_URL, "--schema", schema)
        assert bad.returncode == 1
        assert "broken at record 18" in bad.stderr and "altered" in bad.stderr
        assert "Traceback" not in bad.stderr
    finally:
        asyncio.run(drop())


def test_default_store_is_sqlite_in_the_data_dir_and_bad_input_is_one_line(tmp_path: Path) -> None:
    async def setup() -> None:
        async with SQLiteEventStore(tmp_path / "raytrade" / "events.sqlite") as s:
            await s.append(events(3))

    asyncio.run(setup())
    env = {"RAYTRADE_DATA_DIR": str(tmp_path / "raytrade"), "RAYTRADE_DATABASE_URL": ""}
    r = cli("audit", "verify", env=env)
    assert r.returncode == 0 and "3 records" in r.stdout
    out = tmp_path / "all.jsonl"
    r = cli("audit", "export", "-o", str(out), env=env)
    assert r.returncode == 0 and len(out.read_text().splitlines()) == 3
    r = cli("audit", "export", "--from", "yesterday", env=env)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--from" in r.stderr
    r = cli("audit", "verify", "--database-url", "mysql://x", env=env)
    assert r.returncode == 2 and "unsupported scheme" in r.stderr
    r = cli("audit", "verify", "--database-url", "postgresql://postgres@127.0.0.1:1/test", env=env)
    assert r.returncode == 2 and "cannot connect" in r.stderr and "Traceback" not in r.stderr


def test_signed_checkpoints_catch_a_cut_a_forged_append_and_a_rewrite(tmp_path: Path) -> None:
    """What a chain alone cannot show. A tamperer with write access to the database (triggers
    dropped, as a superuser would) cuts off the newest records, appends a correctly chained record,
    or rewrites the chain from some record on: `audit verify` says ok each time; `audit verify
    --checkpoint` fails naming what happened. Also: a tampered payload with non-ASCII text is named,
    not a crash."""
    import sqlite3

    from raytrade.storage.base import chain_events

    db = tmp_path / "events.sqlite"
    url = f"sqlite:///{db}"
    key = "k" * 40
    env = {"RAYTRADE_AUDIT_KEY": key}
    cps = tmp_path / "elsewhere" / "checkpoints.jsonl"

    async def append(evs: list[Event]) -> None:
        async with SQLiteEventStore(db) as s:
            await s.append(evs)

    asyncio.run(append(events(10)))
    r = cli("audit", "checkpoint", "-o", str(cps), "--database-url", url, env=env)
    assert r.returncode == 0 and "record 10" in r.stdout, r.stderr
    r = cli("audit", "verify", "--checkpoint", str(cps), "--database-url", url, env=env)
    assert r.returncode == 0 and "agree with the log up to record 10" in r.stdout, r.stdout + r.stderr
    no_key: dict[str, str | None] = {"RAYTRADE_AUDIT_KEY": None}
    assert cli("audit", "verify", "--checkpoint", str(cps), "--database-url", url, env=no_key).returncode == 2

    # a forged, correctly chained append (say, a key_created that would authenticate)
    asyncio.run(append([Event(EventType.KEY_CREATED, "forger", "key", {"key_id": "evil", "name": "evil", "role": "admin",
                                                                                "secret_hash": "0" * 64}, T0)]))
    assert cli("audit", "verify", "--database-url", url).returncode == 0        # the chain alone: fine
    r = cli("audit", "verify", "--checkpoint", str(cps), "--database-url", url, env=env)
    assert r.returncode == 1 and "records 11..11 follow the newest signed checkpoint" in r.stderr, r.stderr
    assert cli("audit", "verify", "--checkpoint", str(cps), "--max-unattested", "1", "--database-url", url,
               env=env).returncode == 0

    conn = sqlite3.connect(db)
    conn.executescript("DROP TRIGGER events_no_delete; DROP TRIGGER events_no_update;")
    # a cut of the newest records
    conn.execute("DELETE FROM events WHERE seq > 8")
    conn.commit()
    assert cli("audit", "verify", "--database-url", url).returncode == 0
    r = cli("audit", "verify", "--checkpoint", str(cps), "--database-url", url, env=env)
    assert r.returncode == 1 and "records 9..10 were cut off" in r.stderr, r.stderr
    # a rewrite from record 5 on, rechained so that the chain itself verifies
    rows = conn.execute("SELECT seq, hash FROM events WHERE seq = 4").fetchone()
    conn.execute("DELETE FROM events WHERE seq > 4")
    new = chain_events([Event(EventType.FILL, "trader", f"fake {i}", {"i": i}, T0) for i in range(6)], 4, rows[1])
    conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", new)
    conn.commit()
    assert cli("audit", "verify", "--database-url", url).returncode == 0
    r = cli("audit", "verify", "--checkpoint", str(cps), "--database-url", url, env=env)
    assert r.returncode == 1 and "record 10 has another hash: the log was rewritten" in r.stderr, r.stderr
    # a checkpoint signed with another key
    r = cli("audit", "verify", "--checkpoint", str(cps), "--database-url", url, env={"RAYTRADE_AUDIT_KEY": "x" * 40})
    assert r.returncode == 1 and "does not match this key" in r.stderr
    # tampered payload text with a raw non-ASCII character: named, not a UnicodeEncodeError
    conn.execute("UPDATE events SET payload = '{\"i\":\"é\"}' WHERE seq = 6")
    conn.commit()
    conn.close()
    r = cli("audit", "verify", "--database-url", url)
    assert r.returncode == 1 and "record 6" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_a_key_with_its_own_rate_as_the_readme_shows(tmp_path: Path) -> None:
    """README's `raytrade keys create --name quote-poller --role viewer --rate 50`: the key's rate is
    in its key_created record and in `keys list`; a rate of 0 is one line and creates nothing."""
    readme = (ROOT / "README.md").read_text()
    m = re.search(r"`raytrade keys create\s+--name quote-poller --role viewer --rate 50`", readme)
    assert m, "README no longer shows the command"
    argv = m.group(0).strip("`").split()[1:]
    env = {"RAYTRADE_DATABASE_URL": f"sqlite:///{tmp_path / 'events.sqlite'}"}
    r = cli(*argv, env=env)
    assert r.returncode == 0 and r.stdout.startswith("rtk_") and "50 requests/s" in r.stderr, r.stderr
    listed = cli("keys", "list", env=env)
    assert listed.returncode == 0 and "quote-poller" in listed.stdout and " 50 " in listed.stdout, listed.stdout
    bad = cli("keys", "create", "--name", "x", "--rate", "0", env=env)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "a key's rate must be > 0" in bad.stderr
    assert len(re.findall(r"\b[0-9a-f]{12}\b", cli("keys", "list", env=env).stdout)) == 1   # quote-poller's only
