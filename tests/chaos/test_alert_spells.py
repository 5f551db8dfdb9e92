"""What the bad-link scenario expects of ``alerts run`` from the statuses the broker
published (testkit/chaos/alerting.py, :meth:`AlertsWatch.expect_spells`), on made-up status
sequences: the live scenario only meets whatever spells chance gives it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from testkit.chaos.alerting import OFFLINE, AlertsWatch


def watch(after_s: float = 15) -> AlertsWatch:
    return AlertsWatch([], Path("unused"), None, None, "", after_s)  # type: ignore[arg-type]


def test_a_long_spell_is_raised_and_resolved_a_short_one_nothing() -> None:
    w = watch()
    seen = [
        (100.0, "online", 99.0),
        (130.0, "offline", 130.0),  # Last Will: no time, taken at arrival
        (150.0, "online", 148.0),  # 20 s after: raised, then resolved
        (200.0, "offline", 200.0),
        (205.0, "online", 204.0),  # 5 s: nothing
    ]
    assert w.expect_spells("gw", seen) == 2
    assert w.expected == Counter({(OFFLINE, "gw", "raised"): 1, (OFFLINE, "gw", "resolved"): 1})
    assert not w.optional


def test_a_spell_near_after_s_may_go_either_way_and_an_open_one_is_left() -> None:
    w = watch()
    seen = [
        (10.0, "offline", 10.0),
        (11.0, "offline", 11.0),  # a second offline does not restart the spell
        (26.0, "online", 25.0),  # 16 s from the first: within the margin
        (40.0, "offline", 40.0),  # still open at the end: the caller's
    ]
    assert w.expect_spells("gw", seen) == 1
    assert not w.expected
    assert w.optional == Counter({(OFFLINE, "gw", "raised"): 1, (OFFLINE, "gw", "resolved"): 1})
