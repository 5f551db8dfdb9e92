"""Every panel query and every template-variable query of the checked-in dashboards, expanded
as Grafana expands them (dashboards/macros.py: ``$timeFilter``, ``$__interval``, the
variables with every value selected, Grafana's "All"), runs on a real InfluxDB set up by
``jagajalan store setup`` and filled from a simulator scenario (tests/dashboards/fill.py),
and returns data: a query that errors, or whose series hold no value, fails its test.

The range is the scenario's day (absolute, as a user picking it would send); a panel with a
relative time of its own (the 30-day trends, ``timeFrom``) gets the range Grafana gives it,
the last 30 days up to now.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from dashboards.generate import FOLDER
from dashboards.macros import expand, interval_ms
from testkit.services import Influx
from tests.dashboards.fill import Filled, fill

BOARDS = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(FOLDER.glob("*.json"))}
PANELS = [
    pytest.param(name, panel, target, id=f"{name}/{panel['id']}-{target['refId']}")
    for name, board in BOARDS.items()
    for panel in board["panels"]
    for target in panel.get("targets", [])
]
VARIABLES = [
    pytest.param(name, i, id=f"{name}/{v['name']}")
    for name, board in BOARDS.items()
    for i, v in enumerate(board["templating"]["list"])
]


@pytest.fixture(scope="module")
def filled(influx: Influx, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Filled]:
    database = f"t_dash_{uuid.uuid4().hex[:8]}"
    try:
        yield fill(influx, database, tmp_path_factory.mktemp("dash"))
    finally:
        influx.query(f'DROP DATABASE "{database}"')


def run(filled: Filled, query: str) -> list[dict]:
    """The statement's series; an InfluxDB error fails the test with the query shown."""
    response = httpx.get(
        f"{filled.url}/query", params={"db": filled.database, "q": query, "epoch": "ms"}
    )
    assert response.status_code == 200, (query, response.text)
    (result,) = response.json()["results"]
    assert "error" not in result, (query, result["error"])
    return result.get("series", [])


def values_of(board: dict, filled: Filled, upto: int) -> dict[str, list[str]]:
    """The first *upto* variables' values, each query expanded with the ones before it and
    every value chosen (the dashboards' default, "All")."""
    chosen: dict[str, list[str]] = {}
    for variable in board["templating"]["list"][:upto]:
        q = expand(variable["query"], filled.start_ms, filled.end_ms, variables=chosen)
        rows = [row for s in run(filled, q) for row in s.get("values", [])]
        chosen[variable["name"]] = sorted({str(row[-1]) for row in rows})
    return chosen


@pytest.mark.parametrize(("name", "index"), VARIABLES)
def test_variable_query_returns_values(filled: Filled, name: str, index: int) -> None:
    board = BOARDS[name]
    chosen = values_of(board, filled, index + 1)
    variable = board["templating"]["list"][index]["name"]
    assert chosen[variable], f"{name}: variable {variable} has no values"
    if variable == "gateway":  # every scenario site is on the map and in the filter
        assert set(filled.gateways) <= set(chosen["gateway"])


@pytest.mark.parametrize(("name", "panel", "target"), PANELS)
def test_panel_query_returns_data(filled: Filled, name: str, panel: dict, target: dict) -> None:
    board = BOARDS[name]
    chosen = values_of(board, filled, len(board["templating"]["list"]))
    start, end = filled.start_ms, filled.end_ms
    if "timeFrom" in panel:  # a relative range of the panel's own, up to now
        end = int(time.time() * 1000)
        start = end - interval_ms(panel["timeFrom"])
    query = expand(
        target["query"], start, end, variables=chosen, min_interval=panel.get("interval", "")
    )
    assert not re.search(r"\$(\w|\{)", query), f"not expanded: {query}"
    assert values(run(filled, query)), f"{name}: panel {panel['title']!r} returned no data: {query}"


def values(series: list[dict]) -> list:
    """Every value but the time of every row of every series (the data a panel shows)."""
    return [v for s in series for row in s.get("values", []) for v in row[1:] if v is not None]


def test_a_query_without_data_is_caught(filled: Filled) -> None:
    """What the panel test counts as data is not there for a field nobody writes."""
    query = 'SELECT mean("pm1") FROM "air_quality" WHERE $timeFilter GROUP BY time($__interval)'
    assert values(run(filled, expand(query, filled.start_ms, filled.end_ms))) == []


def test_the_variables_narrow_from_kecamatan_to_gateway(filled: Filled) -> None:
    site, gateway = BOARDS["kualitas-udara"]["templating"]["list"][1:3]
    start, end = filled.start_ms, filled.end_ms
    chosen = {"kecamatan": ["Pauh"]}
    rows = run(filled, expand(site["query"], start, end, variables=chosen))
    chosen["site"] = [row[-1] for s in rows for row in s["values"]]
    assert len(chosen["site"]) == 1
    rows = run(filled, expand(gateway["query"], start, end, variables=chosen))
    assert [row[-1] for s in rows for row in s["values"]] == ["srl-pauh-01"]
