"""Raw /series pages on a real InfluxDB over many series: one merged LIMIT in time order (a
page no longer reads `limit` values of every series), a time never split across pages."""

from __future__ import annotations

import pytest

from store import SeriesQuery
from store.influx import InfluxStore
from telemetry.mapping import Point
from testkit.points import T0
from testkit.services import Influx

pytestmark = pytest.mark.services


class Counting(InfluxStore):
    values: int = 0

    def execute(self, statement, tolerate=(), shown=None):
        results = super().execute(statement, tolerate, shown)
        for result in results:
            for series in result.get("series", []):
                if "time" in series.get("columns", []):
                    self.values += len(series.get("values", []))
        return results


def test_a_page_over_many_series_reads_about_a_page(influx: Influx, influx_db: str) -> None:
    store = Counting(influx.url, influx_db)
    store.ensure()
    gateways = [f"gw-{g:02d}" for g in range(40)]
    store.write(
        [
            Point(
                "air_quality",
                {"gateway": gw, "sensor": "env1"},
                {"pm25": g + t / 100},
                T0 + t * 1000,
            )
            for t in range(50)
            for g, gw in enumerate(gateways)
        ]
        + [
            Point(
                "air_quality",
                {"gateway": "gw-00", "sensor": "env1", "lane": "1"},
                {"label": "x"},
                T0,
            )
        ]
    )
    query = SeriesQuery("air_quality", "pm25", T0, T0 + 50_000)
    store.values = 0
    page = store.series(query, None, 50)
    # 50 asked; the second second's 40 values all come (a time is never split)
    assert [r.time_ms for r in page] == [T0] * 40 + [T0 + 1000] * 40
    assert [r.gateway for r in page[:40]] == gateways and page[0].sensor == "env1"
    assert page[0].tags == {} and page[1].value == 1.0
    assert store.values <= 50 + 40  # the page and its last time: not 50 per series (2,000)
    rows, after = [], None
    while chunk := store.series(query, after, 30):
        rows += chunk
        after = chunk[-1].time_ms
    assert len(rows) == 2000 and len({(r.time_ms, r.gateway) for r in rows}) == 2000
    store.close()


def test_a_page_reads_in_growing_steps_across_days(influx: Influx, influx_db: str) -> None:
    """A sparse series: a value every 2 hours over 6 days. Pages of 10 read from their first
    time in steps (1 h, 8 h, 64 h, ...) and still join up to every value once, in order."""
    store = Counting(influx.url, influx_db)
    store.ensure()
    hour = 3_600_000
    times = [T0 + i * 2 * hour for i in range(72)]
    store.write(
        [
            Point("air_quality", {"gateway": "gw", "sensor": "env1"}, {"pm25": float(i)}, t)
            for i, t in enumerate(times)
        ]
    )
    query = SeriesQuery("air_quality", "pm25", T0, T0 + 6 * 24 * hour)
    first = store.series(query, None, 10)
    assert [r.time_ms for r in first] == times[:10]
    rows, after = [], None
    while chunk := store.series(query, after, 10):
        rows += chunk
        after = chunk[-1].time_ms
    assert [r.value for r in rows] == [float(i) for i in range(72)]
    store.close()
