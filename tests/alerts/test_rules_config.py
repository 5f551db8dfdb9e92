"""alerts.toml: the example loads, and every mistake names the file, the key and the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.rules.config import AlertRules, LadderRule, Threshold
from kernel.config import ConfigError, load_toml
from testkit import REPO

EXAMPLE = REPO / "examples" / "alerts.toml"


def test_the_example_loads_with_every_kind() -> None:
    rules = load_toml(AlertRules, EXAMPLE).rules
    assert {r.kind for r in rules} == {"threshold", "rate", "ladder", "state", "absence"}
    genangan = next(r for r in rules if r.id == "genangan")
    assert isinstance(genangan, LadderRule) and genangan.site_flood
    assert all(set(r.title) == {"id", "en"} for r in rules)


def test_the_demo_rules_load_and_reach_no_person() -> None:
    """examples/alerts-demo.toml (`make demo`): its contact is no contact of the registry, so
    its notifications go only to the MQTT alert topic and the log, never a real person's
    phone; its times suit the demo's accelerated clock (seconds, not scenario hours)."""
    from registry.document import RegistryDoc

    rules = load_toml(AlertRules, REPO / "examples" / "alerts-demo.toml")
    contacts = {c.id for c in load_toml(RegistryDoc, REPO / "examples" / "registry.toml").contacts}
    named = {c for r in rules.routes for s in r.escalation for c in s.contacts}
    assert named == {"layar-demo"} and not named & contacts
    assert all(set(r.title) == {"id", "en"} for r in rules.rules)
    dwell = [getattr(r, "clear_dwell_s", 0) for r in rules.rules]
    assert max(dwell) <= 60 and all(r.reminder_s <= 300 for r in rules.routes)


def problems(tmp_path: Path, text: str) -> str:
    path = tmp_path / "alerts.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_toml(AlertRules, path)
    rendered = caught.value.render()
    assert str(path) in rendered
    return rendered


RULE = '[[rules]]\nid = "r"\nmeasurement = "water_level"\n'


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ('kind = "threshold"\nfield = "level"\nabove = 5\nbelow = 1\nclear = 3', "above and below"),
        (
            'kind = "threshold"\nfield = "level"\nabove = 5\nclear = 8',
            "clear (8.0) must be at most",
        ),
        ('kind = "flood"\nfield = "level"', "rules[0] = {"),
        ('kind = "flood"\nfield = "level"', "kind must be one of threshold, rate, ladder"),
        ('kind = "ladder"\nfield = "level"', "give one of levels"),
        ('kind = "ladder"\nfield = "x"\ncategories = ["E", "E"]', "distinct"),
        ('kind = "ladder"\nfield = "x"\ncategories = ["E"]\ncritical_from = "F"', "'F'"),
        (
            'kind = "ladder"\nfield = "level"\nlevels = { a = 20, b = 10, c = 10 }',
            "rules[0].levels = {'a': 20",
        ),
        ('kind = "state"\nfield = "state"', "give one of bad and good"),
        ('kind = "absence"\nafter_s = 5', "after_s"),
        ('kind = "absence"\nafter_s = 600\nscope = { gateways = ["Bad Id"] }', "= 'Bad Id'"),
        ('kind = "absence"\nafter_s = 600\ntitle = { fr = "x" }', "fr"),
    ],
)
def test_a_mistake_is_named(tmp_path: Path, body: str, named: str) -> None:
    assert named in problems(tmp_path, RULE + body)


def test_rule_ids_are_distinct(tmp_path: Path) -> None:
    rule = RULE + 'kind = "absence"\nafter_s = 600\n'
    assert "rule ids given twice: ['r']" in problems(tmp_path, rule + rule)


def test_a_below_threshold_clears_above_its_clear_value() -> None:
    rule = Threshold(kind="threshold", id="dingin", measurement="m", field="f", below=5, clear=8)
    ladder = rule.ladder()
    assert ladder.steps[0].threshold == -5 and ladder.hysteresis == 3


def test_the_example_routes_name_contacts_of_the_example_registry() -> None:
    from registry.document import RegistryDoc

    contacts = {c.id for c in load_toml(RegistryDoc, REPO / "examples" / "registry.toml").contacts}
    rules = load_toml(AlertRules, EXAMPLE)
    named = {c for r in rules.routes for s in r.escalation for c in s.contacts}
    named |= {q.contact for q in rules.quiet_hours}
    assert named and named <= contacts, named - contacts


def test_a_rule_naming_a_route_that_is_not_given(tmp_path: Path) -> None:
    route = '[[routes]]\nid = "default"\nescalation = [{ after_s = 0, contacts = ["a"] }]\n'
    rule = RULE + 'kind = "absence"\nafter_s = 600\nroute = "malam"\n'
    assert "routes named by rules but not given: ['malam']" in problems(tmp_path, route + rule)


def test_an_escalation_must_start_at_0_and_rise(tmp_path: Path) -> None:
    route = '[[routes]]\nid = "default"\nescalation = [{ after_s = 60, contacts = ["a"] }]\n'
    assert "escalation after_s must start at 0 and rise" in problems(tmp_path, route)
