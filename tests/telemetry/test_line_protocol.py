"""The line-protocol encoder: golden escaping cases, refusals, the fast batch encoder's
equivalence with the Point encoder, and a property test that a real InfluxDB 1.6 reads back
exactly what was encoded (measurements, tag keys and values, field keys, string fields)."""

from __future__ import annotations

import itertools
import math
from types import SimpleNamespace

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from telemetry import Batch, Reading
from telemetry.line_encoder import InvalidName, LineEncoder
from telemetry.mapping import (
    Point,
    batch_meta_line,
    batch_meta_point,
    batch_to_points,
    to_line,
    to_lines,
)
from testkit.ingest import T0
from testkit.services import Influx
from testkit.strategies import batches as _batches
from testkit.strategies import numbers as _numbers
from testkit.strategies import readings as _readings


@pytest.mark.parametrize(
    ("point", "line"),
    [
        (Point("m x", {"t": "a b"}, {"f": 1.0}, 1), r"m\ x,t=a\ b f=1.0 1"),
        (Point("m,x", {"t,k": "a=b"}, {"f": 1.0}, 1), r"m\,x,t\,k=a\=b f=1.0 1"),
        (Point("m=x", {"t": "x"}, {"f k": 1.0, "g=h": 2.0}, 1), r"m=x,t=x f\ k=1.0,g\=h=2.0 1"),
        (Point("m", {"t": "a/b"}, {"f": 'say "hi"\\'}, 1), r'm,t=a/b f="say \"hi\"\\" 1'),
        (
            Point("m", {"t": "Sarolangun Kota–Pauh", "k": "日本"}, {"f": 2}, 5),
            "m,k=日本,t=Sarolangun\\ Kota–Pauh f=2i 5",
        ),
        (Point("m", {"t": ""}, {"f": 1.5}, 1), "m f=1.5 1"),  # an empty tag is no tag
        (Point("m", {}, {"s": "two\nlines", "b": True}, 1), 'm s="two\nlines",b=true 1'),
        (
            Point("m", {}, {"big": 1e20, "small": 1e-05, "neg": -0.0}, 7),
            "m big=1e20,small=0.00001,neg=-0.0 7",  # JSON notation: InfluxDB reads it
        ),
    ],
)
def test_golden_escaping(point: Point, line: str) -> None:
    assert to_line(point) == line
    assert to_lines([point, point]) == f"{line}\n{line}".encode()


@pytest.mark.parametrize(
    ("point", "problem"),
    [
        (Point("m", {"t": "a\nb"}, {"f": 1.0}, 1), "tag value 'a\\nb' contains '\\n'"),
        (Point("m", {}, {"\tf": 1.0}, 1), "field key '\\tf' contains '\\t'"),
        (Point("m", {"t": "a\\b"}, {"f": 1.0}, 1), "tag value 'a\\\\b' contains '\\\\'"),
        (Point("m\\ x", {}, {"f": 1.0}, 1), "measurement 'm\\\\ x' contains '\\\\'"),
        (Point("m", {"": "v"}, {"f": 1.0}, 1), "tag key is empty"),
        (Point("m", {}, {"f": math.nan}, 1), "only finite numbers"),
        (Point("m", {}, {}, 1), "has no fields"),
        (Point("#m", {}, {"f": 1.0}, 1), "comment"),
    ],
)
def test_what_line_protocol_cannot_carry_is_refused(point: Point, problem: str) -> None:
    with pytest.raises(ValueError, match=None) as info:
        to_line(point)
    assert problem in str(info.value)


# -- the fast batch encoder ---------------------------------------------------------------------


@given(batches=st.lists(_batches, min_size=1, max_size=4))
@settings(max_examples=300, deadline=None)
def test_fast_encoder_writes_the_same_lines_as_the_point_encoder(batches: list[Batch]) -> None:
    encoder = LineEncoder(max_series=5)  # small: the cache also starts over in between
    for batch in batches:
        expected = [to_line(p) for p in batch_to_points(batch)]
        assert encoder.batch_lines(batch) == expected
        assert batch_meta_line(batch) == to_line(batch_meta_point(batch))


@given(
    first=_readings,
    values=st.lists(st.lists(_numbers, min_size=6, max_size=6), min_size=1, max_size=30),
    shuffled_tags=st.booleans(),
    reordered=st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_a_batch_of_one_series_is_written_as_reading_by_reading(
    first: Reading, values: list[list[float | int]], shuffled_tags: bool, reordered: bool
) -> None:
    """Readings all of one series (a sensor's batch) take the encoder's one-series path;
    tags given in another order, or one reading's fields in another order, do not change a
    line (the latter takes the reading-by-reading path)."""
    names = list(first.fields)
    tags = dict(reversed(first.tags.items())) if shuffled_tags else first.tags
    rows = [dict(zip(names, row, strict=False)) for row in values]
    if reordered and len(names) > 1:
        rows[-1] = dict(reversed(rows[-1].items()))
    common = {"sensor": first.sensor, "measurement": first.measurement}
    try:
        readings = [
            Reading(**common, time=first.time + i, fields=row, tags=tags if i % 2 else first.tags)
            for i, row in enumerate(rows)
        ]
    except ValidationError:
        assume(False)  # a value the contract refuses (a negative count, say)
    batch = Batch(gateway="gw-a", seq=1, sent=T0, readings=readings)
    expected = [to_line(p) for p in batch_to_points(batch)]
    assert LineEncoder().batch_lines(batch) == expected


def test_fast_encoder_checks_names_once_per_series() -> None:
    """The encoder is where ingest's fast path checks names: anything the contract does not
    allow raises InvalidName, naming it; a valid series is checked once, then cached."""
    ok = SimpleNamespace(
        sensor="env1", measurement="air_quality", time=T0, fields={"pm25": 1.5}, tags={}
    )
    encoder = LineEncoder()
    assert encoder.reading_lines("gw-a", [ok]) == (
        ["air_quality,gateway=gw-a,sensor=env1 pm25=1.5 " + str(T0)],
        T0,
    )
    bad = {
        "sensor": ("Env 1", "sensor 'Env 1'"),
        "measurement": ("Air", "measurement 'Air'"),
        "fields": ({"PM25": 1.5}, "field name 'PM25'"),
        "tags": ({"lanes": "1"}, "unknown tag key 'lanes'"),
    }
    for key, (value, named) in bad.items():
        reading = SimpleNamespace(**{**vars(ok), key: value})
        with pytest.raises(InvalidName, match=named):
            encoder.reading_lines("gw-a", [ok, reading])
    with pytest.raises(InvalidName, match="tag value 'x y'"):
        encoder.reading_lines("gw-a", [SimpleNamespace(**{**vars(ok), "tags": {"lane": "x y"}})])
    with pytest.raises(InvalidName, match="gateway 'GW'"):
        encoder.reading_lines("GW", [ok])
    # counts are ints with the i suffix; one too large to be exact as a float is refused
    counted = SimpleNamespace(**{**vars(ok), "measurement": "traffic", "fields": {"count": 12.0}})
    assert encoder.reading_lines("gw-a", [counted])[0] == [
        f"traffic,gateway=gw-a,sensor=env1 count=12i {T0}"
    ]
    huge = SimpleNamespace(**{**vars(counted), "fields": {"count": 2.0**60}})
    with pytest.raises(InvalidName, match="too large to be exact"):
        encoder.reading_lines("gw-a", [huge])


# -- round trip through a real InfluxDB ---------------------------------------------------------

_text = st.text(
    alphabet=st.sampled_from(list("ab Z09 ,=\"'\\#\t\r\n{}.-_ü日本🚗")), min_size=0, max_size=12
)
# Names are mostly drawn from characters line protocol must escape or that are plain text
# (space, comma, equals, quote, #, unicode), now and then from anything.
_safe = st.text(alphabet=st.sampled_from(list("ab Z09 ,=\"'#{}.-_ü日本🚗")), max_size=12)
_name = st.one_of(_safe, _safe, _safe, _text)
_key = _name.filter(lambda s: s.strip() and s != "time")


@pytest.fixture(scope="module")
def lp_db(influx: Influx):
    influx.query('CREATE DATABASE "lp_roundtrip"')
    yield "lp_roundtrip"
    influx.query('DROP DATABASE "lp_roundtrip"')


_clock = itertools.count(T0)


@given(
    measurement=_key,
    tags=st.dictionaries(_key, _name, max_size=3),
    field_key=_key,
    string=_text,
    number=st.floats(allow_nan=False, allow_infinity=False, width=64),
)
@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_influxdb_reads_back_exactly_what_was_encoded(
    influx: Influx, lp_db: str, measurement, tags, field_key, string, number
) -> None:
    assume(field_key not in tags and field_key + "_n" not in tags)
    time_ms = next(_clock)
    point = Point(measurement, tags, {field_key: string, field_key + "_n": number}, time_ms)
    try:
        line = to_line(point)
    except ValueError as exc:  # refused: only for what 1.x line protocol cannot carry
        texts = [measurement, *tags, *tags.values(), field_key]
        assert any(
            "\n" in t or "\t" in t or "\r" in t or "\\" in t or t.startswith("#") for t in texts
        ), exc
        return
    r = httpx.post(
        f"{influx.url}/write", params={"db": lp_db, "precision": "ms"}, content=line.encode()
    )
    assert r.status_code == 204, (line, r.text)
    result = influx.query(f"SELECT * FROM /.*/ WHERE time = {time_ms}ms GROUP BY *", db=lp_db)
    (series,) = result["results"][0]["series"]
    assert series["name"] == measurement
    # GROUP BY * lists every tag key of the measurement, empty where a point has none
    stored_tags = {k: v for k, v in series.get("tags", {}).items() if v}
    assert stored_tags == {k: v for k, v in tags.items() if v}
    row = dict(zip(series["columns"], series["values"][0], strict=True))
    assert row[field_key] == string
    assert float(row[field_key + "_n"]) == number
