"""Event-store fixtures: every backend the platform ships, each test on a fresh log.

PostgreSQL tests use ``RAYTRADE_TEST_DATABASE_URL`` (default: the machine's local server) and a
schema of their own, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from raytrade.storage import EventStore, SQLiteEventStore
from raytrade.storage.postgres import PostgresEventStore

PG_URL = os.environ.get("RAYTRADE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def pg_schema() -> str:
    return f"rt_test_{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventStore]:
    if request.param == "sqlite":
        s: EventStore = SQLiteEventStore(tmp_path / "events.sqlite")
        await s.open()
        yield s
        await s.close()
    else:
        pg = PostgresEventStore(PG_URL, schema=pg_schema())
        await pg.open()
        yield pg
        await pg.drop_schema()
        await pg.close()
