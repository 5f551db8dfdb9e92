"""``GET /series`` against a real SQLite file and a real InfluxDB process: aggregates on known
data, WIB day boundaries, keyset pages followed to the end, CSV streamed page by page, and
every 400."""

from __future__ import annotations

import base64
import csv
import io
import json
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from api.access import open_reads
from api.app import create_app
from api.routes import series as series_route
from store import SeriesQuery, SeriesRow, Store
from store.sqlite import SQLiteStore
from telemetry.mapping import Point
from testkit.points import GW1, GW2, MIN, T0, air, traffic

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)  # see tests/api/test_api.py
    from fastapi.testclient import TestClient

HOUR, DAY = 60 * MIN, 24 * 60 * MIN
MIDNIGHT = T0 + 9 * HOUR  # 1 Dec 2025 00:00 WIB (T0 is 15:00 WIB on 30 Nov)
WINDOW = "start=2025-11-29T00:00:00%2B07:00&end=2025-12-03T00:00:00%2B07:00"
AIR = f"/series?measurement=air_quality&field=pm25&{WINDOW}"


def fill(store: Store) -> None:
    store.write(
        [
            air(GW1, MIDNIGHT - MIN, pm25=1.0),  # 23:59 WIB 30 Nov
            air(GW1, MIDNIGHT, pm25=2.0),  # 00:00 WIB 1 Dec
            air(GW2, MIDNIGHT + 5 * HOUR, pm25=3.0),
            air(GW1, MIDNIGHT + DAY - MIN, pm25=4.5),
            air(GW1, MIDNIGHT + DAY, pm25=8.0),
            Point("air_quality", {"gateway": GW1, "sensor": "env1"}, {"label": "x"}, T0),
            *(traffic(GW1, lane, T0 + i * MIN, count=i) for i in range(5) for lane in "12"),
        ]
    )


@pytest.fixture
def client(store: Store) -> TestClient:
    """The API on each backend's store (tests/api/conftest.py), filled."""
    fill(store)
    return TestClient(create_app(store, access=open_reads()))


def test_daily_sums_begin_at_midnight_wib(client: TestClient) -> None:
    r = client.get(f"{AIR}&window=1d&agg=sum")
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(p["time"], p["value"]) for p in body["points"]] == [
        ("2025-11-30T00:00:00.000+07:00", 1.0),
        ("2025-12-01T00:00:00.000+07:00", 9.5),
        ("2025-12-02T00:00:00.000+07:00", 8.0),
    ]
    assert body["points"][0] == {
        "time": "2025-11-30T00:00:00.000+07:00",
        "value": 1.0,
        "gateway": None,
        "sensor": None,
        "tags": None,
    }
    assert (body["window"], body["agg"], body["tz"], body["unit"]) == (
        "1d",
        "sum",
        "Asia/Jakarta",
        "ug/m3",
    )
    assert (body["start"], body["end"], body["next"]) == (
        "2025-11-29T00:00:00.000+07:00",
        "2025-12-03T00:00:00.000+07:00",
        None,
    )


@pytest.mark.parametrize(
    ("agg", "values"),
    [("mean", [1.0, 9.5 / 3, 8.0]), ("min", [1.0, 2.0, 8.0]), ("max", [1.0, 4.5, 8.0])],
)
def test_daily_aggregates_are_exact(client: TestClient, agg: str, values: list) -> None:
    body = client.get(f"{AIR}&window=1d&agg={agg}").json()
    assert [p["value"] for p in body["points"]] == values


def test_utc_days_and_counts(client: TestClient) -> None:
    body = client.get(f"{AIR}&window=1d&agg=count&tz=UTC").json()
    # 23:59 and 00:00 WIB are 16:59Z and 17:00Z: one UTC day, with 05:00 WIB (22:00Z).
    assert [(p["time"], p["value"]) for p in body["points"]] == [
        ("2025-11-30T00:00:00.000+00:00", 3),
        ("2025-12-01T00:00:00.000+00:00", 2),
    ]
    hourly = client.get(f"/series?measurement=traffic&field=count&{WINDOW}&window=1h&agg=sum")
    assert [(p["time"], p["value"]) for p in hourly.json()["points"]] == [
        ("2025-11-30T15:00:00.000+07:00", 20)  # 2 lanes x (0+1+2+3+4): ints stay ints
    ]


def _follow(client: TestClient, url: str) -> list[dict]:
    pages = []
    while url:
        r = client.get(url)
        assert r.status_code == 200, r.text
        pages.append(r.json())
        url = r.json()["next"]
        assert len(pages) < 50
    return pages


def test_raw_pages_follow_next_to_the_end(client: TestClient) -> None:
    url = f"/series?measurement=traffic&field=count&gateway={GW1}&{WINDOW}&limit=3"
    pages = _follow(client, url)
    rows = [(p["time"], p["tags"]["lane"], p["value"]) for page in pages for p in page["points"]]
    # Complete, in order, no row twice; a page never splits a minute (3 asked, 4 given).
    assert rows == [
        (f"2025-11-30T15:0{i}:00.000+07:00", lane, i) for i in range(5) for lane in "12"
    ]
    assert [len(page["points"]) for page in pages] == [4, 4, 2]
    assert all(p["gateway"] == GW1 and p["sensor"] == "cnt1" for p in pages[0]["points"])
    query = parse_qs(urlsplit(pages[0]["next"]).query)
    assert query["start"] == ["2025-11-29T00:00:00.000+07:00"]
    assert query["limit"] == ["3"] and len(query["cursor"]) == 1


def test_window_pages_and_the_default_span(client: TestClient) -> None:
    pages = _follow(client, f"{AIR}&window=1h&agg=count&limit=2")
    assert [len(page["points"]) for page in pages] == [2, 2, 1]
    assert sum(p["value"] for page in pages for p in page["points"]) == 5
    # Without start and end: the 24 hours before now, which hold nothing here.
    recent = client.get("/series?measurement=air_quality&field=pm25").json()
    assert recent["points"] == [] and recent["next"] is None


def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_csv_by_format_or_accept(client: TestClient) -> None:
    r = client.get(f"{AIR}&window=1d&agg=max&format=csv")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert _csv(r.text) == [
        ["time", "value"],
        ["2025-11-30T00:00:00.000+07:00", "1.0"],
        ["2025-12-01T00:00:00.000+07:00", "4.5"],
        ["2025-12-02T00:00:00.000+07:00", "8.0"],
    ]
    raw = client.get(
        f"/series?measurement=traffic&field=count&{WINDOW}", headers={"Accept": "text/csv"}
    )
    lines = _csv(raw.text)
    assert lines[0] == ["time", "gateway", "sensor", "tags", "value"]
    assert lines[1] == ["2025-11-30T15:00:00.000+07:00", GW1, "cnt1", "lane=1", "0"]
    assert len(lines) == 11


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("window=2h", "window"),
        ("window=1d&agg=median", "agg"),
        ("tz=Mars/Olympus", "tz"),
        ("tz=Europe/Berlin", "tz"),  # daylight saving: not supported yet
        ("start=2025-12-02T00:00:00Z&end=2025-12-01T00:00:00Z", "start"),
        ("start=2025-12-01T00:00:00Z&end=2025-12-01T00:00:00Z", "start"),
        ("start=2025-10-01T00:00:00Z&end=2025-12-01T00:00:00Z", "window"),  # raw: 31 days
        ("window=1m&start=2025-01-01T00:00:00Z&end=2025-12-01T00:00:00Z", "window"),
        ("start=2025-12-01T00:00:00", "start"),  # no zone
        ("end=yesterday", "end"),
        ("end=0001-01-01T00:00:00Z", "end"),  # was a 500: 24 hours before it overflowed
        ("start=9999-12-31T22:00:00Z&end=9999-12-31T23:00:00Z", "end"),  # was a 500 in WIB
        ("start=1999-12-31T23:00:00Z&end=2000-01-01T01:00:00Z", "start"),
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("format=xml", "format"),
        ("cursor=bm90LWEtY3Vyc29y", "cursor"),
        ("gateway=SRL_PASAR", "gateway"),
        ("sensor=Env%201", "sensor"),
    ],
)
def test_bad_values_are_400_naming_the_parameter(
    client: TestClient, query: str, parameter: str
) -> None:
    r = client.get(f"/series?measurement=air_quality&field=pm25&{query}")
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == "invalid_parameter"
    assert body["message"].startswith(f"{parameter}=")
    assert body["detail"][0]["loc"] == ["query", parameter]


def test_bad_names_mean_of_text_and_foreign_cursor_are_400(client: TestClient) -> None:
    for query, parameter in (
        ("measurement=Air&field=pm25", "measurement"),
        ("measurement=air_quality&field=pm-25", "field"),
        (f"measurement=air_quality&field=label&{WINDOW}&window=1h&agg=mean", "agg"),
    ):
        r = client.get(f"/series?{query}")
        assert (r.status_code, r.json()["detail"][0]["loc"][1]) == (400, parameter), r.text
    assert (
        client.get(f"/series?measurement=air_quality&field=label&{WINDOW}").json()["points"][0][
            "value"
        ]
        == "x"
    )
    first = client.get(f"/series?measurement=traffic&field=count&{WINDOW}&limit=1").json()
    cursor = parse_qs(urlsplit(first["next"]).query)["cursor"][0]
    other = client.get(f"{AIR}&cursor={cursor}")  # a cursor of another query
    assert other.status_code == 400 and "another query" in other.json()["message"]
    missing = client.get("/series?measurement=air_quality")
    assert missing.status_code == 422  # a required parameter left out: FastAPI's own check


@pytest.mark.parametrize("after", ["1e300", "Infinity", "99999999999999999999999", "true", "1.5"])
def test_a_forged_cursor_of_this_query_is_400_not_500(client: TestClient, after: str) -> None:
    """A cursor with the query's own fingerprint but an `after` no page could hold: 1e300 and
    the huge integer overflowed SQLite's INTEGER, Infinity int() (found while fuzzing)."""
    first = client.get(f"{AIR}&limit=1").json()
    given = parse_qs(urlsplit(first["next"]).query)["cursor"][0]
    data = json.loads(base64.urlsafe_b64decode(given + "=" * (-len(given) % 4)))
    fingerprint = data["q"]
    raw = f'{{"after":{after},"q":"{fingerprint}"}}'
    forged = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    for fmt in ("json", "csv"):
        r = client.get(f"{AIR}&cursor={forged}&format={fmt}")
        assert r.status_code == 400, r.text
        assert r.json()["message"].endswith("is not a cursor this API gave")


class _Pages(SQLiteStore):
    """Records the size of every page the API asks the store for."""

    asked: list[int]

    def series(self, query: SeriesQuery, after_ms: int | None, limit: int) -> list[SeriesRow]:
        page = super().series(query, after_ms, limit)
        self.asked.append(len(page))
        return page


def test_csv_of_200k_rows_streams_page_by_page(tmp_path: Path) -> None:
    store = _Pages(tmp_path / "big.sqlite")
    store.asked = []
    store.ensure()
    n = 200_000
    for first in range(0, n, 20_000):
        store.write([air(GW1, T0 + i * 1000, pm25=float(i)) for i in range(first, first + 20_000)])
    try:
        client = TestClient(create_app(store, access=open_reads()))
        end = "2025-12-03T00:00:00Z"
        with client.stream(
            "GET",
            f"/series?measurement=air_quality&field=pm25&start=2025-11-30T00:00:00Z"
            f"&end={end}&format=csv",
        ) as r:
            assert r.status_code == 200
            count, last = 0, ""
            for line in r.iter_lines():
                if line:
                    count, last = count + 1, line
        assert count == n + 1  # the header and every row
        assert last.endswith(f",{GW1},env1,,{float(n - 1)}")
        # The API held one page of the store at a time, never the whole answer.
        assert max(store.asked) == series_route.CSV_PAGE
        assert len(store.asked) == n // series_route.CSV_PAGE + 1
    finally:
        store.close()
