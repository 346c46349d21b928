"""Pick the event store from the settings: PostgreSQL when configured, else embedded SQLite.

- ``RAYTRADE_DATABASE_URL``: ``postgresql://...`` (or ``postgres://``) selects PostgreSQL;
  ``sqlite:///absolute/path.db`` a SQLite file; unset, the SQLite file ``events.sqlite`` in the
  user's data directory.
- ``RAYTRADE_DATABASE_SCHEMA``: the PostgreSQL schema (default ``raytrade``).
- ``RAYTRADE_DATA_DIR``: the user's data directory (default ``$XDG_DATA_HOME/raytrade``, else
  ``~/.local/share/raytrade``).
"""

from __future__ import annotations

import os
from pathlib import Path

from raytrade.core.errors import ConfigError
from raytrade.storage.base import EventStore


def data_dir() -> Path:
    """The folder where raytrade keeps local state (event store, keys, model registry)."""
    if os.environ.get("RAYTRADE_DATA_DIR"):
        return Path(os.environ["RAYTRADE_DATA_DIR"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "raytrade"


def store_from_url(url: str | None = None, *, schema: str | None = None, timeout_s: float | None = None,
                   resolve_timeout_s: float | None = None) -> EventStore:
    """An (unopened) event store for ``url`` (default: the environment, see the module docstring).
    ``timeout_s`` and ``resolve_timeout_s`` (PostgreSQL only; see :class:`PostgresEventStore`)
    default to the store's own."""
    url = url if url is not None else os.environ.get("RAYTRADE_DATABASE_URL") or None
    if url is None:
        from raytrade.storage.sqlite import SQLiteEventStore

        return SQLiteEventStore(data_dir() / "events.sqlite")
    if url.startswith(("postgresql://", "postgres://")):
        from raytrade.storage.postgres import PostgresEventStore

        pg = PostgresEventStore(url, schema=schema or os.environ.get("RAYTRADE_DATABASE_SCHEMA") or "raytrade")
        if timeout_s is not None:
            pg.timeout_s = timeout_s
        if resolve_timeout_s is not None:
            pg.resolve_timeout_s = resolve_timeout_s
        return pg
    if url.startswith("sqlite:///"):
        from raytrade.storage.sqlite import SQLiteEventStore

        return SQLiteEventStore(Path(url.removeprefix("sqlite:///")).expanduser())
    scheme = url.split("://", 1)[0] if "://" in url else url[:20]
    raise ConfigError(f"RAYTRADE_DATABASE_URL: unsupported scheme {scheme!r}; use postgresql://... or sqlite:///path")
