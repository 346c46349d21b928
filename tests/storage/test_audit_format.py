"""The canonical serialisation and the hash chain against hand-written bytes."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from raytrade.core import Event, EventType
from raytrade.storage import GENESIS_HASH, canonical_json, canonical_record, chain_hash, verify_rows
from raytrade.storage.base import chain_events

TS = datetime(2024, 3, 1, 14, 30, 0, 123456, tzinfo=UTC)


def test_canonical_record_is_the_sorted_compact_json_of_the_record() -> None:
    payload = {"symbol": "AAPL", "qty": 500, "price": 185.75, "nested": {"b": [1, 2.5, None], "a": "é"}}
    got = canonical_record(7, "2024-03-01T14:30:00.123456Z", "fill", "strategy_momentum", "signal > 2σ",
                           canonical_json(payload))
    expected = json.dumps({"sequence": 7, "timestamp": "2024-03-01T14:30:00.123456Z", "type": "fill",
                           "principal": "strategy_momentum", "reason": "signal > 2σ", "payload": payload},
                          sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    assert got == expected


def test_canonical_record_escapes_text_as_json_does() -> None:
    for text in ('quote " and \\ backslash', "tab\tnew\nline\x00", "\u2028 é 🙂", ""):
        got = canonical_record(1, "2024-03-01T14:30:00.123456Z", "fill", text, text, "{}")
        expected = json.dumps({"sequence": 1, "timestamp": "2024-03-01T14:30:00.123456Z", "type": "fill",
                               "principal": text, "reason": text, "payload": {}},
                              sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
        assert got == expected


def test_chain_hash_against_hand_written_bytes() -> None:
    text = ('{"payload":{"price":185.75,"qty":500,"symbol":"AAPL"},"principal":"alice","reason":"test",'
            '"sequence":1,"timestamp":"2024-03-01T14:30:00.123456Z","type":"fill"}')
    expected = hashlib.sha256(("0" * 64 + text).encode()).hexdigest()
    rows = chain_events([Event(EventType.FILL, "alice", "test", {"symbol": "AAPL", "qty": 500, "price": 185.75}, TS)],
                        0, GENESIS_HASH)
    assert rows[0][5] == '{"price":185.75,"qty":500,"symbol":"AAPL"}'
    assert rows[0][7] == expected
    assert chain_hash(GENESIS_HASH, text.encode()) == expected


def test_verify_rows_names_the_first_broken_record() -> None:
    events = [Event(EventType.FILL, "p", "r", {"i": i}, TS) for i in range(5)]
    rows = chain_events(events, 0, GENESIS_HASH)
    assert verify_rows(rows).ok
    assert verify_rows(rows).head_hash == rows[-1][7]
    altered = list(rows)
    altered[2] = (*rows[2][:5], '{"i":99}', *rows[2][6:])
    bad = verify_rows(altered)
    assert (bad.ok, bad.bad_sequence) == (False, 3) and "altered" in (bad.problem or "")
    removed = rows[:2] + rows[3:]
    bad = verify_rows(removed)
    assert bad.bad_sequence == 4 and "record 3 missing" in (bad.problem or "")
    swapped = [rows[0], rows[2], rows[1], *rows[3:]]
    assert verify_rows(swapped).bad_sequence == 3
