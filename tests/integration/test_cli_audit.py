"""`raytrade audit verify|export` as a user runs them, against PostgreSQL and the default SQLite store."""

from __future__ import annotations

import asyncio
import json
import os
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

pytestmark = [pytest.mark.integration]
T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "raytrade.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def events(n: int) -> list[Event]:
    return [Event(EventType.FILL, "trader", f"fill {i}", {"i": i, "price": 10.5 + i}, T0 + timedelta(days=i))
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
