"""Aggregated series served from the rollups give the answers of raw points: the same readings
in two databases of a real InfluxDB, one with ``store setup``'s rollups (backfilled, then late
readings in the newest, unsettled intervals), one with raw points only; every aggregate,
window, zone, filter and start compared (tolerance only for float rounding)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from store import SeriesQuery, SeriesRow, retention
from store.influx import InfluxStore
from store.rollup_series import SETTLE_MS, plan
from telemetry.mapping import Point
from testkit.influx_setup import setup_database
from testkit.services import Influx

pytestmark = pytest.mark.services

MIN, HOUR, DAY = 60_000, 3_600_000, 86_400_000
AGGS = ("mean", "min", "max", "sum", "count")
OFFSETS = {"Asia/Jakarta": 7 * HOUR, "UTC": 0, "Asia/Kathmandu": 5 * HOUR + 45 * MIN}


class Spy(InfluxStore):
    """Records every statement, to show which answers came from a rollup."""

    statements: list[str]

    def execute(self, statement, tolerate=(), shown=None):
        self.statements.append(statement)
        return super().execute(statement, tolerate, shown)


def readings(first: int, last: int) -> list[Point]:
    out = []
    for i, t in enumerate(range(first, last, 7 * MIN + 13_017)):
        for g, gateway in enumerate(("gw-a", "gw-b", "gw-c")):
            if (i + g) % 5 == 0:
                continue  # gaps, different per gateway
            tags = {"gateway": gateway, "sensor": "env1"}
            fields = {"pm25": (i * 37 + g * 11) % 97 / 3.0, "aqi": (i * 13 + g) % 301}
            if i % 3 == 0:
                fields["label"] = "x"
            out.append(Point("air_quality", tags, fields, t + g * 999))
            lane = {"gateway": gateway, "sensor": "cnt1", "lane": str(1 + i % 2)}
            out.append(Point("traffic", lane, {"count": (i + g) % 17}, t + g * 999))
    return out


@pytest.fixture(scope="module")
def stores(influx: Influx) -> Iterator[tuple[Spy, InfluxStore, int]]:
    now = int(time.time() * 1000)
    first = (now // HOUR - 70) * HOUR + 17 * MIN + 5_123
    rolled, raw = f"t_{uuid.uuid4().hex[:12]}", f"t_{uuid.uuid4().hex[:12]}"
    setup_database(influx.url, rolled)  # rollups as in production
    spy, plain = Spy(influx.url, rolled), InfluxStore(influx.url, raw)
    spy.statements = []
    plain.ensure()  # raw points only: no retention policy holds rollups
    early = readings(first, now - 6 * MIN)
    for store in (spy, plain):
        store.write(early)
    retention.backfill(spy, first, now)
    late = readings(now - 5 * MIN, now)  # after the backfill: the newest intervals only
    for store in (spy, plain):
        store.write(late)
    try:
        yield spy, plain, now
    finally:
        for store in (spy, plain):
            store.close()
        influx.query(f'DROP DATABASE "{rolled}"')
        influx.query(f'DROP DATABASE "{raw}"')


def _all(store: InfluxStore, query: SeriesQuery, limit: int) -> list[SeriesRow]:
    rows: list[SeriesRow] = []
    after = None
    while page := store.series(query, after, limit):
        rows += page
        after = page[-1].time_ms
        assert len(rows) < 20_000
    return rows


def _same(a: list[SeriesRow], b: list[SeriesRow], what: str) -> None:
    assert [r.time_ms for r in a] == [r.time_ms for r in b], what
    for x, y in zip(a, b, strict=True):
        assert type(x.value) is type(y.value), (what, x, y)
        assert x.value == pytest.approx(y.value, rel=1e-12, abs=1e-9), (what, x, y)


@pytest.mark.parametrize("window", ["1m", "1h", "1d"])
@pytest.mark.parametrize("tz", list(OFFSETS))
def test_rollups_answer_as_raw_points_do(
    stores: tuple[Spy, InfluxStore, int], window: str, tz: str
) -> None:
    spy, plain, now = stores
    day = (now + 7 * HOUR) // DAY * DAY - 7 * HOUR  # today's midnight WIB
    starts = {"aligned": day - 3 * DAY, "inside an interval": day - 2 * DAY - 7 * MIN - 3_001}
    span = {"1m": 20 * HOUR, "1h": 4 * DAY, "1d": 4 * DAY}[window]
    rollup = retention.ROLLUPS["1m" if window == "1m" else "1h"]
    cases = [
        (m, f, agg) for m, f in (("air_quality", "pm25"), ("air_quality", "aqi")) for agg in AGGS
    ]
    cases += [("traffic", "count", agg) for agg in AGGS] + [("air_quality", "label", "count")]
    for (label, start), gateway in [(s, g) for s in starts.items() for g in (None, "gw-b")]:
        if window == "1m":
            start = max(start, now - span + 3 * HOUR)  # a recent day: its newest minutes too
        end = min(start + span, now + HOUR)
        for measurement, field, agg in cases:
            query = SeriesQuery(
                measurement, field, start, end, gateway, None, window, agg, tz, OFFSETS[tz]
            )
            spy.statements.clear()
            served = _all(spy, query, 10_000)
            what = f"{measurement}.{field} {agg} {window} {tz} {label} gateway={gateway}"
            assert served, what
            _same(served, _all(plain, query, 10_000), what)
            used = any(f'FROM "{rollup}"' in s and "last(" not in s for s in spy.statements)
            # Kathmandu's hours begin at :45 UTC: no hourly rollup fits; its minutes do.
            assert used == (tz != "Asia/Kathmandu" or window == "1m"), what
        # Pages of a few windows each join up to the same answer.
        query = SeriesQuery(
            "traffic", "count", start, end, gateway, None, window, "sum", tz, OFFSETS[tz]
        )
        _same(_all(spy, query, 7), _all(plain, query, 10_000), f"pages {window} {tz}")


def test_plan_serves_settled_whole_intervals_only() -> None:
    q = SeriesQuery("air_quality", "pm25", 0, 0, window="1d", tz="Asia/Jakarta")
    newest = 100 * HOUR  # the rollup's newest interval found
    # start inside an hour: raw up to the next hour; the newest hour is not settled yet
    assert plan(q, 10 * HOUR + 5, 200 * HOUR, newest) == (11 * HOUR, 101 * HOUR - SETTLE_MS["1h"])
    assert plan(q, 10 * HOUR, 50 * HOUR + 1, newest) == (10 * HOUR, 50 * HOUR)
    assert plan(q, 10 * HOUR, 200 * HOUR, None) is None  # no rollup point: all raw
    assert plan(q, 10 * HOUR + 1, 11 * HOUR + 5, newest) is None  # no whole hour inside
    nepal = SeriesQuery(
        "air_quality", "pm25", 0, 0, window="1d", offset_ms=OFFSETS["Asia/Kathmandu"]
    )
    assert plan(nepal, 0, 200 * HOUR, newest) is None
    minute = SeriesQuery("air_quality", "pm25", 0, 0, window="1m")
    assert plan(minute, 0, 200 * MIN, 100 * MIN) == (0, 101 * MIN - SETTLE_MS["1m"])
