"""A TCP proxy that produces the faults real networks produce, for tests against the real
PostgreSQL and Redis servers (which are never stopped: a test cuts its own connection here).

:class:`FaultProxy` listens on 127.0.0.1 (a port of its own) and forwards to a real server, in a
thread with its own event loop, so that synchronous tests (Ray drivers) and async tests use it
alike. Its mode is switched at any moment from the test:

- ``pass``: bytes flow both ways.
- ``drop_replies``: what the client sends reaches the server, what the server answers is thrown
  away: a commit happens and its reply is lost. New connections hang (their handshake gets no
  answer).
- ``freeze``: nothing moves either way; bytes wait in the proxy and flow when the mode leaves
  ``freeze`` (a stalled link). New connections are accepted and wait too.
- ``refuse``: every open connection is closed and new ones are closed at once (the server is gone).

``cut()`` closes every open connection once and leaves the mode as it is (a dependency that drops
and, in ``pass``, comes straight back).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Literal

Mode = Literal["pass", "drop_replies", "freeze", "refuse"]


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.mode: Mode = "pass"
        self.port = 0
        self.connections = 0          # accepted so far
        self.dropped_reply_bytes = 0  # server bytes thrown away in drop_replies
        self._loop = asyncio.new_event_loop()
        self._changed: asyncio.Event | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._thread.start()
        self._call(self._start())

    # --- the test's side ---------------------------------------------------------------------

    def url(self, template: str) -> str:
        """``template`` (a URL with ``{port}``) pointed at this proxy."""
        return template.format(port=self.port)

    def set(self, mode: Mode) -> None:
        self._call(self._set(mode))

    def cut(self) -> None:
        self._call(self._close_all())

    @contextlib.contextmanager
    def fault(self, mode: Mode) -> Iterator[FaultProxy]:
        """``mode`` while the block runs, then ``pass``."""
        self.set(mode)
        try:
            yield self
        finally:
            self.set("pass")

    def close(self) -> None:
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def _call(self, coro: object) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)  # type: ignore[arg-type]

    # --- the proxy's loop --------------------------------------------------------------------

    async def _start(self) -> None:
        self._changed = asyncio.Event()
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._close_all()

    async def _set(self, mode: Mode) -> None:
        self.mode = mode
        assert self._changed is not None
        self._changed.set()
        self._changed = asyncio.Event()
        if mode == "refuse":
            await self._close_all()

    async def _close_all(self) -> None:
        for w in list(self._writers):
            w.close()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.mode == "refuse":
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        pumps = [asyncio.create_task(self._pump(reader, up_writer, reply=False)),
                 asyncio.create_task(self._pump(up_reader, writer, reply=True))]
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for p in pumps:
            p.cancel()
        for w in (writer, up_writer):
            w.close()
            self._writers.discard(w)

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, reply: bool) -> None:
        while True:
            data = await src.read(65536)
            if not data:
                return
            while self.mode == "freeze":
                assert self._changed is not None
                await self._changed.wait()
            if self.mode == "refuse":
                return
            if reply and self.mode == "drop_replies":
                self.dropped_reply_bytes += len(data)
                continue
            dst.write(data)
            await dst.drain()
