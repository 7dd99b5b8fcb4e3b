"""The md.ticks schema: what is written is read back, and what is not known is refused, never guessed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cluster.adapters.kafka.events import (
    BARS_SCHEMA,
    BARS_VERSION,
    TICKS_SCHEMA,
    UnknownSchema,
    chunks_to_batch,
    decode_bars,
    decode_json,
    decode_ticks,
    encode_bars,
    encode_json,
    encode_ticks,
    headers,
    ticks_version,
)
from trading.instruments import InstrumentRegistry
from trading.market import Bar, TickBatch


def _ticks(n: int, inst: int = 0) -> TickBatch:
    rng = np.random.default_rng(n)
    ts = np.sort(rng.integers(1, 10**12, n))
    bid = rng.integers(100_000, 110_000, n)
    return TickBatch(ts, np.full(n, inst, np.int16), bid, bid + 7, rng.random(n))


def test_a_tick_chunk_reads_back_exactly() -> None:
    t = _ticks(1000)
    c = decode_ticks(encode_ticks("EURUSD", 42, t), headers(TICKS_SCHEMA, 1))
    assert (c.symbol, c.batch, len(c)) == ("EURUSD", 42, 1000)
    assert (c.ts == t.ts).all() and (c.bid == t.bid).all() and (c.ask == t.ask).all() and (c.volume == t.volume).all()
    empty = decode_ticks(encode_ticks("USDJPY", 7, _ticks(0)), headers(TICKS_SCHEMA, 1))
    assert len(empty) == 0 and empty.symbol == "USDJPY"


@pytest.mark.parametrize("hdrs, match", [
    (headers(TICKS_SCHEMA, 3), "unknown schema md.ticks v3"),
    (headers("signals", 1), "unknown schema signals v1"),
    (None, "no schema/version headers"),
    ([("schema", b"md.ticks"), ("v", b"one")], "no schema/version headers"),
])
def test_an_unknown_schema_or_version_is_refused(hdrs, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnknownSchema, match=match):
        decode_ticks(encode_ticks("EURUSD", 1, _ticks(3)), hdrs)


def test_quotes_made_from_bars_keep_their_path_flags_as_v2_and_ticks_stay_v1(registry: InstrumentRegistry) -> None:
    t = _ticks(8)
    flagged = TickBatch(t.ts, t.inst, t.bid, t.ask, t.volume, np.array([False, True, True, True] * 2))
    assert (ticks_version(t), ticks_version(flagged)) == (1, 2)
    c = decode_ticks(encode_ticks("EURUSD", 3, flagged), headers(TICKS_SCHEMA, 2))
    assert c.path is not None and c.path.tolist() == [False, True, True, True] * 2 and (c.bid == t.bid).all()
    plain = decode_ticks(encode_ticks("USDJPY", 3, _ticks(2, 2)), headers(TICKS_SCHEMA, 1))
    batch = chunks_to_batch([c, plain], registry)
    assert batch.path is not None and batch.path.tolist() == [False, True, True, True] * 2 + [False, False]
    assert chunks_to_batch([plain], registry).path is None
    with pytest.raises(ValueError, match="v2 payload .* does not hold 8 ticks"):  # a v1 payload under v2
        decode_ticks(encode_ticks("EURUSD", 3, t), headers(TICKS_SCHEMA, 2))


def test_a_truncated_payload_is_refused() -> None:
    payload = encode_ticks("EURUSD", 1, _ticks(10))
    with pytest.raises(ValueError, match="does not hold 10 ticks"):
        decode_ticks(payload[:-5], headers(TICKS_SCHEMA, 1))
    with pytest.raises(ValueError, match="shorter than its header"):
        decode_ticks(b"junk", headers(TICKS_SCHEMA, 1))


def test_chunks_keep_each_instruments_own_order(registry: InstrumentRegistry) -> None:
    a = decode_ticks(encode_ticks("EURUSD", 0, _ticks(5, 0)), headers(TICKS_SCHEMA, 1))
    b = decode_ticks(encode_ticks("USDJPY", 0, _ticks(4, 2)), headers(TICKS_SCHEMA, 1))
    batch = chunks_to_batch([a, b], registry)
    assert batch.inst.tolist() == [0] * 5 + [registry.index("USDJPY")] * 4 and (batch.ts[:5] == a.ts).all()


def test_json_events_carry_their_version() -> None:
    doc = {"a": "1.0850", "n": 3}
    assert decode_json(encode_json(doc), headers("signals", 1), "signals") == doc
    with pytest.raises(UnknownSchema):
        decode_json(encode_json(doc), headers("signals", 2), "signals")


def test_bars_travel_as_columns_and_come_back_as_the_same_bars() -> None:
    bars = [Bar("EURUSD", i * 60_000_000_000, (i + 1) * 60_000_000_000, 1.085 + i * 1e-5, 1.0852 + i * 1e-5,
                1.0849 + i * 1e-5, 1.0851 + i * 1e-5, 12.5, 7, 0.00006) for i in range(5)]
    payload = encode_bars("EURUSD", 42, bars)
    assert decode_bars(payload, headers(BARS_SCHEMA, BARS_VERSION)) == ("EURUSD", 42, bars)
    assert json.loads(payload)["bars"]["close"] == [b.close for b in bars]
    with pytest.raises(UnknownSchema):
        decode_bars(payload, headers(BARS_SCHEMA, 1))
