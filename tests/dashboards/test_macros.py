"""Grafana's expansion as dashboards/macros.py does it: the time filter, the interval (the
range over max data points, rounded as Grafana rounds, never below the panel's minimum) and
multi-value variables as escaped regex alternatives."""

from __future__ import annotations

import pytest

from dashboards.macros import expand, format_variable, panel_interval, round_interval
from dashboards.sites import site_points
from registry.facts import SiteFacts

DAY = 86_400_000


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (86_400, "1m"),
        (60_000, "1m"),
        (100_000, "2m"),
        (300_000, "5m"),
        (2_592_000, "30m"),
        (3_600_000, "1h"),
        (86_400_000, "1d"),
        (10**12, "1y"),
    ],
)
def test_round_interval_is_grafanas_table(ms: int, text: str) -> None:
    assert round_interval(ms)[1] == text


def test_a_day_over_1000_points_is_a_minute_and_the_panel_minimum_wins() -> None:
    assert panel_interval(0, DAY) == (60_000, "1m")
    assert panel_interval(0, DAY, "1h") == (3_600_000, "1h")
    assert panel_interval(0, 30 * DAY, "1h") == (3_600_000, "1h")


def test_variables_are_escaped_regex_alternatives() -> None:
    assert format_variable(["srl-pasar-01"]) == "srl-pasar-01"
    assert format_variable(["Air Hitam", "a.b", "x/y"]) == r"(Air Hitam|a\.b|x\/y)"


def test_expand_replaces_every_macro_and_leaves_unknown_variables() -> None:
    q = (
        'SELECT mean("pm25") FROM "air_quality" WHERE $timeFilter AND "gateway" =~ /^$gateway$/ '
        'AND "site" =~ /^${site}$/ GROUP BY time($__interval) -- $__interval_ms $other'
    )
    out = expand(q, 1000, 1000 + DAY, variables={"gateway": ["a", "b"], "site": ["s1"]})
    assert out == (
        'SELECT mean("pm25") FROM "air_quality" WHERE time >= 1000ms and time <= 86401000ms '
        'AND "gateway" =~ /^(a|b)$/ AND "site" =~ /^s1$/ GROUP BY time(1m) -- 60000 $other'
    )


def _facts(gateway: str, kecamatan: str) -> SiteFacts:
    return SiteFacts(
        gateway, f"site-{gateway}", f"Jl. {gateway}", kecamatan, -2.3, 102.7, None, None
    )


def test_site_points_carry_the_tags_the_variables_read_and_skip_sites_without_kecamatan() -> None:
    points = site_points(
        [_facts("gw-b", "Pauh"), _facts("gw-a", "Limun"), _facts("gw-c", "")], 5000
    )
    assert [(p.measurement, p.tags, p.time_ms) for p in points] == [
        ("jagajalan_site", {"gateway": "gw-a", "kecamatan": "Limun", "site": "site-gw-a"}, 5000),
        ("jagajalan_site", {"gateway": "gw-b", "kecamatan": "Pauh", "site": "site-gw-b"}, 5000),
    ]
    assert points[0].fields == {"latitude": -2.3, "longitude": 102.7, "name": "Jl. gw-a"}
