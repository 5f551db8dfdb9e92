"""The rule engine (alerts/rules/engine.py) on the simulators' ground truth and on edge cases.

The scenarios' values are sampled directly from their model (Scenario.value, every scenario
step), the same values the emulated devices report; the flood ladder comes from the site's
registry facts. Nothing here runs a service: the engine is pure.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.rules.config import Absence, AlertRules, LadderRule, Rate, State, Threshold
from alerts.rules.engine import Engine, Event, run
from registry.facts import SiteFacts
from simulators.scenario.engine import Scenario
from telemetry.mapping import Point
from testkit import REPO

MIN = 60.0


def site(gateway: str, flood: tuple | None = ("road_depth", 10.0, 20.0, 30.0)) -> SiteFacts:
    return SiteFacts(
        gateway, f"site-{gateway}", "Jl. Uji", "Sarolangun", -2.3, 102.7, 2000.0, flood
    )


GENANGAN = LadderRule(
    kind="ladder",
    id="genangan",
    measurement="water_level",
    field="level",
    site_flood=True,
    hysteresis=5.0,
)


def level(gateway: str, t: float, cm: float, sensor: str = "wl1") -> Point:
    tags = {"gateway": gateway, "sensor": sensor}
    return Point("water_level", tags, {"level": cm}, int(t * 1000))


def steps(events: list[Event]) -> list[tuple[str, str, str]]:
    return [(e.kind, e.previous, e.level) for e in events]


def test_the_flood_scenario_gives_one_notification_per_step_and_one_resolution() -> None:
    sc = Scenario.load("rainy_season_flood")
    gateways = ("srl-tembesi-01", "srl-pasar-01")
    engine = Engine(AlertRules(rules=[GENANGAN]), {g: site(g) for g in gateways})
    points = []
    t = sc.start
    while t <= sc.start + sc.duration:
        points += [level(g, t, sc.value(g, "water_level", t)) for g in gateways]
        t += sc.step
    events = run(engine, points)
    tembesi = [e for e in events if e.gateway == "srl-tembesi-01"]
    assert steps(tembesi) == [
        ("raised", "normal", "waspada"),
        ("changed", "waspada", "siaga"),
        ("changed", "siaga", "awas"),
        ("changed", "awas", "siaga"),
        ("changed", "siaga", "waspada"),
        ("resolved", "waspada", "normal"),
    ]
    assert [e.severity for e in tembesi[:3]] == ["warning", "warning", "critical"]
    # Up: at the scenario's crossings (its own tolerance, 15 min). Down: the water must fall
    # 5 cm (the hysteresis) below the line, so later than the raw crossing, never earlier.
    tolerance = 15 * MIN
    ups = ["day1 14:55", "day1 15:15", "day1 15:40"]
    for event, at in zip(tembesi[:3], ups, strict=True):
        assert abs(event.time_s - sc.at(at)) <= tolerance, (event, at)
    downs = ["day1 17:30", "day1 18:30", "day1 20:00"]
    for event, at in zip(tembesi[3:], downs, strict=True):
        assert sc.at(at) - tolerance <= event.time_s <= sc.at(at) + 6 * 60 * MIN, (event, at)
    pasar = [e for e in events if e.gateway == "srl-pasar-01"]
    assert steps(pasar) == [("raised", "normal", "waspada"), ("resolved", "waspada", "normal")]
    assert abs(pasar[0].time_s - sc.at("day1 15:40")) <= tolerance


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-5.0, 5.0), min_size=72, max_size=72))
def test_a_level_oscillating_5_cm_around_a_threshold_for_6_hours_raises_and_clears_once(
    wobble: list[float],
) -> None:
    """Every 5 min for 6 h, 20 cm ± 5 cm (the siaga line, hysteresis 5 cm), from waspada."""
    engine = Engine(AlertRules(rules=[GENANGAN]), {"gw": site("gw")})
    points = [level("gw", 0, 15.0)] + [
        level("gw", (i + 1) * 5 * MIN, 20.0 + w) for i, w in enumerate(wobble)
    ]
    events = run(engine, points)
    into = [e for e in events if e.level == "siaga" and e.up]
    out = [e for e in events if e.previous == "siaga" and not e.up]
    assert len(into) <= 1 and len(out) <= 1
    assert len(out) <= len(into)  # no clear without a raise


def test_a_silent_sensor_raises_once_after_its_time_and_resolves_when_data_returns() -> None:
    rule = Absence(kind="absence", id="diam", measurement="water_level", after_s=900)
    engine = Engine(AlertRules(rules=[rule]))
    events = engine.observe(level("gw", 0, 1.0))
    for t in range(60, 900, 60):  # ticks before T: nothing
        events += engine.tick(t)
    assert events == []
    raised = engine.tick(900) + engine.tick(960) + engine.tick(5000)
    assert steps(raised) == [("raised", "normal", "raised")] and raised[0].time_s == 900
    assert (raised[0].gateway, raised[0].sensor) == ("gw", "wl1")
    back = engine.observe(level("gw", 6000, 1.0))
    assert steps(back) == [("resolved", "raised", "normal")]
    assert engine.tick(6060) == []


def test_an_expected_sensor_that_never_sent_raises_too() -> None:
    rule = Absence(kind="absence", id="diam", measurement="water_level", after_s=600)
    engine = Engine(AlertRules(rules=[rule]))
    engine.expect("diam", ("gw", "wl9"), since_s=1000)
    assert engine.tick(1500) == []
    assert steps(engine.tick(1600)) == [("raised", "normal", "raised")]


def status(gateway: str, t: float, state: str) -> Point:
    return Point("gateway_status", {"gateway": gateway}, {"state": state}, int(t * 1000))


def test_an_offline_gateway_raises_after_its_time_without_any_more_data() -> None:
    rule = State(
        kind="state",
        id="offline",
        measurement="gateway_status",
        field="state",
        bad=["offline"],
        after_s=300,
        severity="critical",
    )
    engine = Engine(AlertRules(rules=[rule]))
    assert engine.observe(status("gw", 0, "online")) == []
    assert engine.observe(status("gw", 100, "offline")) == []  # the Last Will
    assert engine.tick(399) == []
    raised = engine.tick(400)
    assert steps(raised) == [("raised", "normal", "raised")] and raised[0].value == "offline"
    assert (raised[0].gateway, raised[0].sensor, raised[0].severity) == ("gw", "", "critical")
    assert engine.tick(460) == []
    assert steps(engine.observe(status("gw", 500, "online"))) == [("resolved", "raised", "normal")]


def test_a_gateway_back_before_its_time_raises_nothing() -> None:
    rule = State(
        kind="state",
        id="offline",
        measurement="gateway_status",
        field="state",
        bad=["offline"],
        after_s=300,
    )
    engine = Engine(AlertRules(rules=[rule]))
    engine.observe(status("gw", 0, "offline"))
    engine.observe(status("gw", 200, "online"))
    assert engine.tick(400) == [] and engine.tick(1000) == []


def test_a_threshold_with_dwell_and_hysteresis() -> None:
    rule = Threshold(
        kind="threshold",
        id="panas",
        measurement="road_surface",
        field="surface_temperature",
        above=60,
        clear=55,
        raise_dwell_s=600,
    )
    engine = Engine(AlertRules(rules=[rule]))

    def temp(t: float, c: float) -> list[Event]:
        p = Point(
            "road_surface",
            {"gateway": "gw", "sensor": "rs1"},
            {"surface_temperature": c},
            int(t * 1000),
        )
        return engine.observe(p)

    assert temp(0, 61) == [] and temp(300, 62) == []  # not yet 10 min
    assert temp(400, 59) == []  # dipped: the dwell starts again
    assert temp(500, 61) == [] and temp(1000, 61) == []
    assert steps(temp(1100, 61)) == [("raised", "normal", "raised")]
    assert temp(1200, 56) == []  # within the hysteresis
    assert steps(temp(1300, 54.9)) == [("resolved", "raised", "normal")]


def test_a_rate_rule_sees_water_rising_fast() -> None:
    rule = Rate(
        kind="rate",
        id="naik",
        measurement="water_level",
        field="level",
        rise_per_hour=15,
        window_s=1800,
    )
    engine = Engine(AlertRules(rules=[rule]))
    slow = [level("gw", i * 300, 5.0 + i * 0.5) for i in range(12)]  # 6 cm/h
    fast = [level("gw", 3600 + i * 300, 11.0 + i * 2.5) for i in range(1, 10)]  # 30 cm/h
    events = run(engine, slow + fast)
    assert steps(events) == [("raised", "normal", "raised")]
    assert 3600 + 900 <= events[0].time_s <= 3600 + 1800


def test_ispu_categories_as_one_alert_with_levels() -> None:
    rule = LadderRule(
        kind="ladder",
        id="asap",
        measurement="jagajalan_ispu_hourly",
        field="category",
        categories=["tidak_sehat", "sangat_tidak_sehat", "berbahaya"],
        critical_from="sangat_tidak_sehat",
        notify_down=False,
    )
    engine = Engine(AlertRules(rules=[rule]))
    hours = ["sedang", "tidak_sehat", "sangat_tidak_sehat", "tidak_sehat", "baik"]
    events = []
    for h, category in enumerate(hours):
        tags = {"gateway": "gw", "sensor": "aq1"}
        p = Point("jagajalan_ispu_hourly", tags, {"category": category}, h * 3_600_000)
        events += engine.observe(p)
    assert steps(events) == [
        ("raised", "normal", "tidak_sehat"),
        ("changed", "tidak_sehat", "sangat_tidak_sehat"),
        ("resolved", "tidak_sehat", "normal"),  # the step down itself is not notified
    ]
    assert [e.severity for e in events] == ["warning", "critical", "warning"]


def test_scope_by_kecamatan_and_history_points() -> None:
    other = SiteFacts("gw-b", "s-b", "Jl. B", "Pauh", -2.1, 102.8, 2000.0, None)
    rule = GENANGAN.model_copy(
        update={"scope": GENANGAN.scope.model_copy(update={"kecamatan": ["Sarolangun"]})}
    )
    engine = Engine(AlertRules(rules=[rule]), {"gw": site("gw"), "gw-b": other})
    assert engine.observe(level("gw-b", 0, 50.0)) == []  # another kecamatan
    assert steps(engine.observe(level("gw", 100, 25.0))) == [("raised", "normal", "siaga")]
    assert engine.observe(level("gw", 50, 0.0)) == []  # older than the last: history
    assert engine.observe(level("unknown-gw", 100, 50.0)) == []  # no site: out of scope


def test_the_haze_scenario_through_the_hourly_ispu_gives_one_notification_per_step() -> None:
    """pm2.5 / pm10 of the haze episode every scenario step -> the indicators job's hourly
    ISPU (indicators.compute, the same code as `analytics run`) -> the example's rule."""
    from indicators.compute import ispu_hourly
    from indicators.config import IndicatorsConfig
    from kernel.config import load_toml

    rules = load_toml(AlertRules, REPO / "examples" / "alerts.toml")
    rule = next(r for r in rules.rules if r.id == "kabut-asap")
    sc = Scenario.load("haze_episode")
    readings, t = [], sc.start
    while t <= sc.start + sc.duration:
        values = sc.values("srl-pasar-01", t)
        fields = {"pm25": values["pm25"], "pm10": values["pm10"]}
        tags = {"gateway": "srl-pasar-01", "sensor": "aq1"}
        readings.append(Point("air_quality", tags, fields, int(t * 1000)))
        t += sc.step
    start_ms, end_ms = int(sc.start * 1000), int((sc.start + sc.duration) * 1000)
    hourly = ispu_hourly(readings, IndicatorsConfig(), start_ms, end_ms)
    events = run(Engine(AlertRules(rules=[rule])), hourly, tick_every_s=3600)
    assert steps(events) == [
        ("raised", "normal", "tidak_sehat"),
        ("changed", "tidak_sehat", "sangat_tidak_sehat"),
        ("changed", "sangat_tidak_sehat", "berbahaya"),
        ("changed", "berbahaya", "sangat_tidak_sehat"),
        ("changed", "sangat_tidak_sehat", "tidak_sehat"),
        ("resolved", "tidak_sehat", "normal"),
    ]
    tolerance = 60 * MIN  # an hourly index of values every 10 min
    ups = ["day2 02:00", "day2 21:00", "day3 06:10"]
    for event, at in zip(events[:3], ups, strict=True):
        assert abs(event.time_s - sc.at(at)) <= tolerance + 3600, (event, at)
    assert abs(events[3].time_s - sc.at("day6 14:20")) <= tolerance + 6 * 3600
    assert [e.severity for e in events[:3]] == ["warning", "critical", "critical"]
