"""The store contract for series (docs/api.md): raw and aggregated, in windows of a zone,
one keyset page at a time; on SQLite and a real InfluxDB (the store: conftest.py)."""

from __future__ import annotations

import pytest

from store import Store
from store.base import SeriesQuery, SeriesRefused, SeriesRow
from telemetry.mapping import Point
from testkit.points import GW1, GW2, MIN, T0, air, traffic

# -- series: raw and aggregated, in windows of a zone, one keyset page at a time ---------------

HOUR, DAY = 60 * MIN, 24 * 60 * MIN
WIB_MIDNIGHT = T0 + 9 * HOUR  # T0 is 15:00 WIB on 30 Nov 2025: 1 Dec 00:00 WIB = 17:00Z


def _walk(store: Store, query: SeriesQuery, limit: int) -> list[list[SeriesRow]]:
    pages, after = [], None
    while page := store.series(query, after, limit):
        pages.append(page)
        after = page[-1].time_ms
        assert len(pages) < 100
    return pages


def _day_points() -> list[Point]:
    return [
        air(GW1, WIB_MIDNIGHT - MIN, pm25=1.0),  # 23:59 WIB, 30 Nov
        air(GW1, WIB_MIDNIGHT, pm25=2.0),  # 00:00 WIB, 1 Dec
        air(GW2, WIB_MIDNIGHT + 5 * HOUR, pm25=3.0),  # another gateway, same WIB day
        air(GW1, WIB_MIDNIGHT + DAY - MIN, pm25=4.5),  # 23:59 WIB, 1 Dec
        air(GW1, WIB_MIDNIGHT + DAY, pm25=8.0),  # 00:00 WIB, 2 Dec
        Point("air_quality", {"gateway": GW1, "sensor": "env1"}, {"label": "x"}, T0),
    ]


@pytest.mark.parametrize(
    ("agg", "values"),
    [
        ("sum", [1.0, 9.5, 8.0]),
        ("mean", [1.0, 9.5 / 3, 8.0]),
        ("min", [1.0, 2.0, 8.0]),
        ("max", [1.0, 4.5, 8.0]),
        ("count", [1, 3, 1]),
    ],
)
def test_series_days_begin_at_midnight_of_the_zone(
    store: Store, agg: str, values: list[float]
) -> None:
    store.write(_day_points())
    q = SeriesQuery("air_quality", "pm25", T0 - DAY, T0 + 3 * DAY, window="1d", agg=agg)
    rows = store.series(q, None, 10)
    assert [r.time_ms for r in rows] == [WIB_MIDNIGHT - DAY, WIB_MIDNIGHT, WIB_MIDNIGHT + DAY]
    assert [r.value for r in rows] == values
    assert all(type(r.value) is type(values[0]) for r in rows)
    assert all(r.gateway is None and r.tags == {} for r in rows)
    # In UTC the day of 30 Nov ends 7 hours later: the first two points fall in one day.
    utc = SeriesQuery(
        "air_quality", "pm25", T0 - DAY, T0 + 3 * DAY, window="1d", agg=agg, tz="UTC", offset_ms=0
    )
    assert store.series(utc, None, 10)[0].time_ms == T0 - 8 * HOUR


def test_series_filters_start_end_and_keyset_pages(store: Store) -> None:
    store.write(_day_points())
    # The start cuts into the first window: only values from start on count.
    q = SeriesQuery("air_quality", "pm25", WIB_MIDNIGHT + HOUR, T0 + 3 * DAY, window="1d")
    assert [(r.time_ms, r.value) for r in store.series(q, None, 10)] == [
        (WIB_MIDNIGHT, 3.75),
        (WIB_MIDNIGHT + DAY, 8.0),
    ]
    one = SeriesQuery("air_quality", "pm25", T0, T0 + 3 * DAY, gateway=GW2, sensor="env1")
    assert [(r.time_ms, r.value, r.gateway, r.sensor) for r in store.series(one, None, 5)] == [
        (WIB_MIDNIGHT + 5 * HOUR, 3.0, GW2, "env1")
    ]
    hourly = SeriesQuery("air_quality", "pm25", T0 - DAY, T0 + 3 * DAY, window="1h", agg="count")
    pages = _walk(store, hourly, 2)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [r.value for p in pages for r in p] == [1, 1, 1, 1, 1]
    assert store.series(hourly, WIB_MIDNIGHT + DAY, 10) == []
    nothing = SeriesQuery("air_quality", "nope", T0, T0 + DAY, window="1h")
    assert store.series(nothing, None, 10) == []


def test_series_raw_pages_never_split_a_time(store: Store) -> None:
    lanes = [traffic(GW1, lane, T0 + i * MIN, count=i) for i in range(5) for lane in "123"]
    store.write([*lanes, traffic(GW2, "1", T0 + MIN, count=7)])
    q = SeriesQuery("traffic", "count", T0, T0 + HOUR, gateway=GW1)
    pages = _walk(store, q, 4)
    # 4 asked, the three lanes of the last time all given: pages of 6, 6 and 3.
    assert [len(p) for p in pages] == [6, 6, 3]
    rows = [r for p in pages for r in p]
    assert [(r.time_ms, r.tags["lane"], r.value) for r in rows] == [
        (T0 + i * MIN, lane, i) for i in range(5) for lane in "123"
    ]
    assert all(type(r.value) is int and r.gateway == GW1 and r.sensor == "cnt1" for r in rows)
    every = SeriesQuery("traffic", "count", T0, T0 + HOUR)
    assert sum(len(p) for p in _walk(store, every, 1)) == 16


def test_series_of_a_text_field_only_counts(store: Store) -> None:
    store.write(_day_points())
    q = SeriesQuery("air_quality", "label", T0 - DAY, T0 + DAY, window="1h", agg="mean")
    with pytest.raises(SeriesRefused, match="label"):
        store.series(q, None, 10)
    count = SeriesQuery("air_quality", "label", T0 - DAY, T0 + DAY, window="1h", agg="count")
    assert [(r.time_ms, r.value) for r in store.series(count, None, 10)] == [(T0, 1)]
    raw = SeriesQuery("air_quality", "label", T0 - DAY, T0 + DAY)
    assert [r.value for r in store.series(raw, None, 10)] == ["x"]
