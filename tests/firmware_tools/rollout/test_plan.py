"""A staged rollout over a simulated fleet (in memory, seeded): group by group, and it stops by
itself when a group's failures pass the threshold; the commands on the cmd topic are signed,
bound to one gateway and expire. The signer here is HMAC-SHA256 with a test key, standing in
for the firmware minisign key (firmware_tools.bundle), which this branch does not have."""

from __future__ import annotations

import hashlib
import hmac
import random

import pytest

from firmware_tools.rollout.command import Command, CommandError, decode, encode
from firmware_tools.rollout.plan import Group, Rollout, Seen

KEY = b"test-key"


def sign(data: bytes) -> str:
    return hmac.new(KEY, data, hashlib.sha256).hexdigest()


def check(data: bytes, sig: str) -> bool:
    return hmac.compare_digest(sign(data), sig)


def fleet(sizes: list[int]) -> list[Group]:
    return [
        Group(f"g{i}", tuple(f"gw-{i}-{n:02d}" for n in range(size)))
        for i, size in enumerate(sizes)
    ]


def simulate(rollout: Rollout, fate: dict[str, str], seed: int) -> list[str]:
    """Runs the rollout against simulated gateways; returns the gateways commanded, in order.

    fate: gateway -> ok (updates), rolled_back (reports its failed update), silent (never
    answers: the deadline judges it)."""
    rng = random.Random(seed)
    now, due, order = 0.0, [], []
    while rollout.tick(now) == "running":
        for gateway in rollout.to_send():
            rollout.mark_sent(gateway, now)
            order.append(gateway)
            if fate.get(gateway, "ok") != "silent":
                due.append((now + rng.uniform(5, 120), gateway))
        due.sort()
        if due and (not rollout.to_send()):
            now, gateway = due.pop(0)
            if fate.get(gateway, "ok") == "ok":
                seen = Seen(rollout.version, True, "committed", rollout.version)
            else:
                seen = Seen("1.0.0", True, "rolled_back", rollout.version)
            rollout.observe(gateway, seen, now)
        else:
            now += 60.0
    return order


def test_a_good_release_reaches_every_group_in_order() -> None:
    groups = fleet([3, 10, 30])
    rollout = Rollout("2.0.0", groups, max_failures=0.2, deadline=600)
    order = simulate(rollout, {}, seed=1)
    assert rollout.state == "done"
    assert rollout.summary() == {"updated": 43, "failed": 0, "pending": 0, "not_sent": 0}
    # never a gateway of a later group before every gateway of the earlier one ended
    assert [g.split("-")[1] for g in order] == sorted(g.split("-")[1] for g in order)


@pytest.mark.parametrize("seed", range(5))
def test_a_bad_release_stops_at_the_threshold(seed: int) -> None:
    groups = fleet([3, 10, 30])
    rng = random.Random(seed)
    # group 1 is healthy; in group 2 three of ten fail (above 20 %): some report a rollback,
    # some never answer
    bad = rng.sample(groups[1].gateways, 3)
    fate = {g: rng.choice(["rolled_back", "silent"]) for g in bad}
    rollout = Rollout("2.0.0", groups, max_failures=0.2, deadline=600)
    order = simulate(rollout, fate, seed)
    assert rollout.state == "halted"
    assert "group g1" in rollout.reason
    assert not set(order) & set(groups[2].gateways)  # the last group got nothing
    summary = rollout.summary()
    assert summary["not_sent"] == 30 and summary["failed"] == 3


def test_failures_at_the_threshold_do_not_stop_it() -> None:
    groups = fleet([10, 10])
    fate = {"gw-0-03": "rolled_back", "gw-0-07": "silent"}  # 2 of 10 = 20 %: allowed
    rollout = Rollout("2.0.0", groups, max_failures=0.2, deadline=600)
    simulate(rollout, fate, seed=3)
    assert rollout.state == "done"
    assert rollout.summary()["failed"] == 2


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="more than one group"):
        Rollout("2", [Group("a", ("x",)), Group("b", ("x",))])
    with pytest.raises(ValueError, match="max_failures"):
        Rollout("2", fleet([1]), max_failures=1.0)


def command(**kw) -> Command:
    fields = dict(
        gateway="srl-pasar-01",
        version="2.0.0",
        counter=7,
        bundle="https://updates.example/jagajalan-gateway-2.0.0-arm64.jjfw",
        sha256="a" * 64,
        rollout="r1",
        issued=1_000,
        expires=2_000,
    )
    return Command(**{**fields, **kw})


def test_a_command_round_trips_and_every_tampering_is_refused() -> None:
    raw = encode(command(), sign)
    assert decode(raw, gateway="srl-pasar-01", now_ms=1_500, check=check) == command()
    tampered = raw.replace(b'"2.0.0"', b'"0.9.0"')
    cases = {
        "signature": (tampered, "srl-pasar-01", 1_500),
        "gateway": (raw, "srl-pasar-02", 1_500),
        "expired": (raw, "srl-pasar-01", 2_000),
        "format": (b"{}", "srl-pasar-01", 1_500),
    }
    for reason, (payload, gateway, now) in cases.items():
        with pytest.raises(CommandError) as err:
            decode(payload, gateway=gateway, now_ms=now, check=check)
        assert err.value.reason == reason
    with pytest.raises(CommandError) as err:
        decode(encode(command(version="../x"), sign), gateway="srl-pasar-01", now_ms=1, check=check)
    assert err.value.reason == "format"


def test_an_earlier_rollouts_failure_is_not_this_ones() -> None:
    """A gateway whose command of an earlier rollout for the same version was refused
    (expired) still reports that; a new rollout judges it by its own command's outcome."""
    rollout = Rollout("2.0.0", fleet([1]), max_failures=0.5, deadline=600, rollout_id="r2")
    (gateway,) = rollout.to_send()
    rollout.mark_sent(gateway, 0.0)
    old = Seen("1.0.0", True, "refused", "2.0.0", update_rollout="r1")
    rollout.observe(gateway, old, 1.0)
    assert rollout.outcome[gateway] == "pending"
    rollout.observe(gateway, Seen("1.0.0", True, "refused", "2.0.0", update_rollout="r2"), 2.0)
    assert rollout.outcome[gateway] == "failed"
