"""Ingest's JSON fast path in C (ingest/_json_lines.c): it writes exactly the lines of the
Python fast path (msgspec structs and the LineEncoder) for what it takes, takes the payloads
gateways send, and gives every other payload back (None) to the Python paths, never a crash.
test_pipeline.py runs the whole pipeline, with this module in it, against the codec.

The module is built by the install (setup.py); these tests fail, not skip, without it."""

from __future__ import annotations

import json
import re
import resource

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import _json_lines, pipeline
from telemetry import encode_batch
from telemetry.line_encoder import InvalidName, LineEncoder
from telemetry.mapping import format_float, meta_line
from telemetry.units import FIELDS, field_kind
from testkit.ingest import T0, batch_bytes
from testkit.strategies import batches

GW = "gw-a"


def c_lines(
    payload: bytes, gateway: str = GW, encoder: LineEncoder | None = None, joined: bool = False
):
    encoder = encoder or LineEncoder(max_series=3)
    return _json_lines.lines(payload, gateway, encoder.series, format_float, joined)


def python_lines(payload: bytes, gateway: str = GW):
    """The Python fast path's result in the C path's shape, or None where it gives up."""
    fast = pipeline.fast_batch(payload)
    if fast is None or fast.gateway != gateway:
        return None
    try:
        lines, newest = LineEncoder(max_series=3).reading_lines(gateway, fast.readings)
    except InvalidName:
        return None
    return lines, len(fast.readings), newest, fast.seq, fast.sent


def agree(payload: bytes, gateway: str = GW) -> object:
    """C takes only what the Python fast path takes, with the same lines; joined (one text,
    what the worker asks for), the same lines, or None just as often."""
    got = c_lines(payload, gateway)
    text = c_lines(payload, gateway, joined=True)
    assert (text is None) == (got is None)
    if got is not None:
        assert text == ("\n".join(got[0]), *got[1:])
        assert got == python_lines(payload, gateway)
    return got


def test_a_gateways_batch_is_read_in_c_with_the_python_lines() -> None:
    payload = batch_bytes(GW, 7)
    got = agree(payload)
    assert got is not None and got[1] >= 1
    # and through the pipeline, with the meta line last
    done = pipeline.process(f"jagajalan/v1/{GW}/readings", payload, 0, LineEncoder())
    assert isinstance(done, pipeline.Accepted)
    assert done.points == [*got[0], meta_line(GW, 7, got[1], got[4])]


@given(batch=batches)
@settings(max_examples=300, deadline=None)
def test_c_writes_the_python_lines_for_any_valid_batch(batch) -> None:
    payload = encode_batch(batch.model_copy(update={"gateway": GW}))
    got = agree(payload)
    # Taken unless a number is written with an exponent or is an integer of over 15 digits
    # (those are left to Python), or a count is no integer.
    plain = not re.search(rb"[0-9][eE][-+]?[0-9]|[:,-][0-9]{16,}[,}]", payload)
    counts_ok = all(
        type(v) is int for r in batch.readings for k, v in r.fields.items() if k in _COUNTS
    )
    if plain and counts_ok:
        assert got is not None, payload
    assert c_lines(payload, "gw-b") is None  # another gateway's topic


_COUNTS = {name for name in FIELDS if field_kind(name) == "int"}

_NUMBER = st.from_regex(r"-?(0|[1-9][0-9]{0,19})(\.[0-9]{1,22})?", fullmatch=True)


@given(texts=st.lists(_NUMBER, min_size=1, max_size=4), repeat=st.booleans())
@settings(max_examples=1000, deadline=None)
def test_numbers_are_written_as_format_float_writes_them(texts: list[str], repeat: bool) -> None:
    """Any JSON number text without exponent: trailing zeros, -0 (the integer 0) and -0.0,
    0.0001 and smaller, 15,
    16, 17 and more digits; twice, so the second reading is written from the cache of texts."""
    fields = ",".join(f'"f{i}":{t}' for i, t in enumerate(texts))
    reading = f'{{"sensor":"s1","measurement":"m_1","time":{T0},"fields":{{{fields}}}}}'
    readings = ",".join([reading] * (2 if repeat else 1))
    payload = f'{{"v":1,"gateway":"{GW}","seq":1,"sent":{T0},"readings":[{readings}]}}'.encode()
    got = agree(payload)
    if all(len(t.lstrip("-").split(".")[0]) <= 15 or "." in t for t in texts):
        assert got is not None, payload
        values = [msgspec.json.decode(t.encode(), type=float) for t in texts]  # "-0" is 0
        expected = ",".join(f"f{i}={format_float(v)}" for i, v in enumerate(values))
        assert got[0][0] == f"m_1,gateway={GW},sensor=s1 {expected} {T0}"


_LAYOUT_CHANGES = [
    lambda p: p.replace(b'"v":1,', b'"v":1 ,', 1),  # whitespace
    lambda p: p.replace(b'"sensor":"', b'"sensor":"\\u0065', 1),  # an escape
    lambda p: p.replace(b'"seq":', b'"extra":1,"seq":', 1),  # an unknown key
    lambda p: p.replace(b'"time":', b'"time":1.0,"time":', 1),
    lambda p: p.replace(b'"pm25":', b'"pm25":1e3,"pm25":', 1),  # a repeated field
    lambda p: p.replace(b'"env1"', b'"Env1"', 1),  # a name the contract refuses
    lambda p: p.replace(b'"air_quality"', b'"gateway_batches"', 1),  # reserved
    lambda p: p.replace(b'"readings":[', b'"readings":[]}', 1),
    lambda p: p.replace(b'"v":1', b'"v":2', 1),
    lambda p: p[:-1],
    lambda p: p + b" ",
    lambda p: p.replace(b"{", b"\xff{", 1),
]


@pytest.mark.parametrize("change", _LAYOUT_CHANGES)
def test_what_is_not_the_plain_layout_goes_back_to_python(change) -> None:
    payload = change(batch_bytes(GW, 1))
    assert c_lines(payload) is None


@given(
    seed=st.integers(0, 100),
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=3)), max_size=3),
)
@settings(max_examples=1000, deadline=None)
def test_corrupted_payloads_never_crash_and_never_pass_what_python_refuses(seed, edits) -> None:
    payload = bytearray(batch_bytes(GW, seed))
    for position, replacement in edits:
        i = position % (len(payload) + 1)
        payload[i : i + len(replacement)] = replacement
    agree(bytes(payload))


def test_tags_many_series_and_counts() -> None:
    readings = [
        {"sensor": "c1", "measurement": "traffic", "time": T0 + i, "fields": {"count": i}}
        for i in range(3)
    ]
    readings += [
        {
            "sensor": f"e{i % 2}",
            "measurement": "air_quality",
            "time": T0 + i,
            "fields": {"pm25": 0.1 * i, "pm10": i},
            "tags": {"lane": "ke-kota"} if i % 3 else {},
        }
        for i in range(6)
    ]
    obj = {"v": 1, "gateway": GW, "seq": 2, "sent": T0, "readings": readings}
    payload = json.dumps(obj, separators=(",", ":")).encode()
    got = agree(payload)
    assert got is not None and got[1] == 9
    assert got[0][1] == f"traffic,gateway={GW},sensor=c1 count=1i {T0 + 1}"


def test_a_count_that_is_no_integer_goes_back_to_python() -> None:
    obj = {"v": 1, "gateway": GW, "seq": 2, "sent": T0, "readings": []}
    obj["readings"] = [{"sensor": "c1", "measurement": "traffic", "time": T0, "fields": {}}]
    for value in ("12.0", "-0", "1234567890123456"):
        text = json.dumps(obj, separators=(",", ":")).replace(
            '"fields":{}', f'"fields":{{"count":{value}}}'
        )
        assert c_lines(text.encode()) is None, value


def test_no_memory_grows_over_many_calls() -> None:
    """References and buffers are given back: 20,000 calls on a valid and on a corrupt payload
    (and a name refused), as lines and joined, leave the process's peak RSS within a few MB."""
    good = batch_bytes(GW, 3)
    bad = good[: len(good) // 2]
    refused = good.replace(b'"env1"', b'"ENV"', 1)
    encoder = LineEncoder()
    for payload in (good, bad, refused):
        c_lines(payload, encoder=encoder)
        c_lines(payload, encoder=encoder, joined=True)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(20_000):
        for payload in (good, bad, refused):
            c_lines(payload, encoder=encoder)
            c_lines(payload, encoder=encoder, joined=True)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 4096, grown_kib
