"""The C compact module (ingest/_compact_lines.c) as a Python function: what it does with
its callbacks (``series`` raising or called once per schema used, ``fmt`` raising), the
references and memory it gives back over many calls, and the wrapper of
ingest/compact_path.py that calls it. Its lines against the Python path's, on valid and
invalid bodies: tests/ingest/test_compact_c.py."""

from __future__ import annotations

import resource
import sys

import msgpack
import pytest

from ingest import _compact_lines, compact_path
from telemetry import Reading, compact
from telemetry.line_encoder import InvalidName, LineEncoder
from telemetry.mapping import format_float, meta_line
from testkit.ingest import T0

from .test_compact_c import GW, _agree, _batch, _c, _encode, _raw


@pytest.mark.parametrize("exc", [InvalidName("no"), RuntimeError("a bug"), KeyboardInterrupt()])
def test_series_or_fmt_raising_gives_none(exc: BaseException) -> None:
    """series (or fmt) raising gives None (the Python path raises a bug again), but for an
    interrupt."""

    def fail(*args):
        raise exc

    # a float sent as itself, one per case, that no other test prints: fmt prints it (the
    # texts fmt printed are kept: test_fast_path_caches.py)
    floats = _raw(rows=[0, 0, 0.123456789012347 + len(repr(exc)), 7])
    for body, series, fmt in ((_raw(), fail, format_float), (floats, _c_series, fail)):
        if isinstance(exc, Exception):
            assert _compact_lines.lines(body, GW, series, fmt) is None
        else:
            with pytest.raises(KeyboardInterrupt):
                _compact_lines.lines(body, GW, series, fmt)


def _c_series(*args):
    return LineEncoder().series(*args)


def test_series_is_called_with_the_names_and_tags_of_each_used_schema() -> None:
    calls = []

    def series(*args):
        calls.append(args)
        return _c_series(*args)

    strings = ["s1", "air_quality", "pm25", "lane", "1", "s2"]
    schemas = [[0, 1, [2], [1], [3, 4]], [5, 1, [2], [None], []], [0, 1, [2], [None], []]]
    rows = [2, 0, 1.5, 0, 1, 413, 2, 0, 2.5]
    body = msgpack.packb([GW, 1, T0, strings, schemas, [T0, 1000], rows])
    assert _compact_lines.lines(body, GW, series, format_float) is not None
    assert calls == [
        (GW, "s1", "air_quality", ["pm25"], {"lane": "1"}),
        (GW, "s1", "air_quality", ["pm25"], {}),
    ]
    _agree(body)


# -- resources --------------------------------------------------------------------------------


def _rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def test_no_leak_on_valid_and_corrupt_bodies() -> None:
    """20,000 calls on a valid body and on a corrupt one keep the peak RSS within a few MB
    (a leaked reference per call, of a line list or a name, would add far more)."""
    readings = [
        Reading(sensor="s1", measurement="traffic", time=T0 + i, fields={"count": i, "pm25": 1 / 3})
        for i in range(20)
    ]
    valid = _encode(_batch(readings))
    corrupt = valid.replace(b"\xa5count", b"\xa5Count")  # a name series refuses, late
    bad_utf8 = valid.replace(b"\xa5count", b"\xa5\xffount")
    encoder = LineEncoder()
    gateway = "".join(["gw-", "a"])  # an object of its own, to count its references
    series = encoder.series
    for body in (valid, corrupt, bad_utf8):
        _compact_lines.lines(body, gateway, series, format_float)
        _compact_lines.lines(body, gateway, series, format_float, True)
    refs = [sys.getrefcount(x) for x in (gateway, series, format_float, valid, corrupt)]
    before, blocks = _rss_kb(), sys.getallocatedblocks()
    for _ in range(20_000):
        for joined in (False, True):  # lines, and one text
            assert _compact_lines.lines(valid, gateway, series, format_float, joined) is not None
            assert _compact_lines.lines(corrupt, gateway, series, format_float, joined) is None
            assert _compact_lines.lines(bad_utf8, gateway, series, format_float, joined) is None
    assert _rss_kb() - before < 4096
    assert sys.getallocatedblocks() - blocks < 1000
    assert [sys.getrefcount(x) for x in (gateway, series, format_float, valid, corrupt)] == refs


def test_the_wrapper_takes_the_c_path_and_appends_the_meta_line() -> None:
    assert _c(_raw())[0] == [f"air_quality,gateway=gw-a,sensor=s1 pm25=41.3,count=7i {T0}"]
    batch = _batch(
        [Reading(sensor="s1", measurement="air_quality", time=T0, fields={"pm25": 41.3})]
    )
    payload = compact.encode(batch, compress=True)
    lines, n, newest = compact_path.compact_lines(payload, GW, LineEncoder())
    assert lines == [
        f"air_quality,gateway=gw-a,sensor=s1 pm25=41.3 {T0}",
        meta_line(GW, 7, 1, T0 + 500),
    ]
    assert (n, newest) == (1, T0)
    assert compact_path._compact_lines is _compact_lines
