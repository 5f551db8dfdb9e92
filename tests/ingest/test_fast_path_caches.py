"""The texts the C fast paths keep of the numbers format_float printed (ingest/_json_lines.c
by the number's text, ingest/_compact_lines.c by the float's bits): a value seen again is
written from the cache, with format_float's text, and values that differ (-0.0 and 0.0,
texts of one float) are kept apart."""

from __future__ import annotations

import msgpack

from ingest import _compact_lines, _json_lines
from telemetry.line_encoder import LineEncoder
from telemetry.mapping import format_float
from testkit.ingest import T0

GW = "gw-a"


class CountingFormat:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, value: float) -> str:
        self.calls.append(value)
        return format_float(value)


def fields_of(lines: list[str]) -> list[str]:
    return [line.split(" ")[1] for line in lines]


def test_json_numbers_printed_once_then_from_the_cache() -> None:
    # 17 significant digits: printed by format_float; the last two texts are one float
    texts = ["41.699999999999996", "-0.0000012345678901234", "41.69999999999999600"]
    readings = ",".join(
        f'{{"sensor":"s1","measurement":"m_1","time":{T0 + i},"fields":{{"x":{t}}}}}'
        for i, t in enumerate(texts * 2)
    )
    payload = f'{{"v":1,"gateway":"{GW}","seq":1,"sent":{T0},"readings":[{readings}]}}'
    fmt = CountingFormat()
    got = _json_lines.lines(payload.encode(), GW, LineEncoder().series, fmt)
    assert got is not None
    expected = [f"x={format_float(float(t))}" for t in texts * 2]
    assert fields_of(got[0]) == expected
    assert len(fmt.calls) <= 3  # each text at most once (none if an earlier test printed it)
    again = CountingFormat()
    assert _json_lines.lines(payload.encode(), GW, LineEncoder().series, again) == got
    assert again.calls == []


def test_compact_floats_printed_once_then_from_the_cache() -> None:
    values = [41.699999999999996, -0.0, 0.0, 1.2345678901234567e-7, 41.699999999999996]
    rows = [x for i, v in enumerate(values) for x in (0, 1 if i else 0, v)]
    body = msgpack.packb(
        [GW, 1, T0, ["s1", "m_1", "x"], [[0, 1, [2], [None], []]], [T0, 1000], rows]
    )
    fmt = CountingFormat()
    got = _compact_lines.lines(body, GW, LineEncoder().series, fmt)
    assert got is not None
    assert fields_of(got[0]) == [f"x={format_float(v)}" for v in values]
    assert len(fmt.calls) <= 4  # 41.69... once; -0.0 and 0.0 apart
    again = CountingFormat()
    assert _compact_lines.lines(body, GW, LineEncoder().series, again) == got
    assert again.calls == []
