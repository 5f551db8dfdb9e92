"""The chaos scenarios in time, on a running :class:`ChaosRig`: each applies its fault while
the cabinet keeps taking readings, heals, waits until the gateway's backlog has drained,
stops the gateway cleanly and returns the :class:`Tally` plus the scenario's own figures.

The fault lasts a set time (that is the experiment, not a wait for a condition); during it
the gateway must stay alive, which is checked every second.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from testkit.chaos import smallfs
from testkit.chaos.rig import EMIT, ChaosRig
from testkit.chaos.tally import (
    Tally,
    read_refused,
    reading_measurements,
    stored_points,
    tally,
)
from testkit.gateway import read_emit_log


@dataclass
class Outcome:
    name: str
    tally: Tally
    figures: dict[str, float] = field(default_factory=dict)

    def all_figures(self) -> dict[str, float]:
        return {
            **self.tally.figures(self.name),
            **{f"{self.name}.{k}": v for k, v in self.figures.items()},
        }


def hold(rig: ChaosRig, seconds: float, every: Callable[[], None] | None = None) -> None:
    """Let *seconds* pass with the fault on; the gateway must live through it."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert rig.alive(), rig.gateway_log.read_text()
        if every is not None:
            every()
        time.sleep(min(1.0, max(0.0, end - time.monotonic())))


def _finish(
    rig: ChaosRig,
    name: str,
    healed: float,
    figures: dict[str, float],
    settle: float = 60,
    status_keys: tuple[str, ...] = (),
) -> Outcome:
    """Wait for the drain, note *status_keys* of the gateway's last status, stop, count."""
    drained = rig.wait_drained(healed, timeout=600)
    figures["drain_s"] = round(time.time() - healed, 1)
    assert drained, f"backlog not drained 600 s after healing:\n{rig.gateway_log.read_text()}"
    if status_keys:
        status = rig.status()
        figures.update({k: status.get(k, -1) for k in status_keys})
    code = rig.stop_gateway(timeout=60)
    assert code == 0, rig.gateway_log.read_text()
    return Outcome(name, tally(rig, settle), figures)


def _health_during(rig: ChaosRig, start: float, end: float) -> list[dict]:
    points = rig.store.points("gateway_health", rig.gateway)
    return [
        p.fields
        for p in sorted(points, key=lambda p: p.time_ms)
        if start * 1000 < p.time_ms < end * 1000
    ]


def partition(rig: ChaosRig, seconds: float, name: str = "partition") -> Outcome:
    """The link goes down for *seconds* (no carrier, every packet dropped), then heals."""
    hold(rig, 3)  # readings flowing normally first
    down = time.time()
    rig.ns.partition()
    try:
        hold(rig, seconds)
    finally:
        rig.ns.heal()
    up = time.time()
    outcome = _finish(rig, name, up, {"fault_s": round(up - down, 1)})
    during = _health_during(rig, down + 3, up)
    outcome.figures["max_spool_depth"] = max((f["spool_depth"] for f in during), default=0)
    outcome.figures["health_points_during"] = len(during)
    _expect_offline_spell(rig, down, up)
    return _alerts_at_end(rig, outcome)


def _expect_offline_spell(rig: ChaosRig, down: float, up: float) -> None:
    """The gateway cut off from *down* to *up*: the broker publishes its Last Will 1.5
    keepalives in, so with the rig's alerts service, offline long enough is raised, and
    resolved when it is back."""
    if rig.alerts is not None and up - down > 1.5 * rig.link.keepalive + rig.alerts.after_s + 2:
        rig.alerts.expect(rig.gateway, "raised")
        rig.alerts.expect(rig.gateway, "resolved")


def _alerts_at_end(rig: ChaosRig, outcome: Outcome) -> Outcome:
    """With the rig's alerts service: the alerts of every run (offline raised once the gateway
    stopped at the end, ``e1``'s count over the threshold) added to what the scenario
    expected, and expected vs delivered in the figures."""
    if rig.alerts is not None:
        rig.alerts.expect(rig.gateway, "raised")
        rig.alerts.expect_count(rig.gateway, read_emit_log(rig.emit_log))
        outcome.figures.update(rig.alerts.figures())
    return outcome


def bad_link(
    rig: ChaosRig, seconds: float, loss: int = 30, kbit: int = 64, name: str = "bad_link"
) -> Outcome:
    """*loss* % of packets dropped each way and the uplink capped at *kbit* kbit/s for
    *seconds* (latency, when the rig has it, comes from its relay), then a clean link.

    Whether the lossy link breaks the gateway's connection long enough for its Last Will is
    chance, so with the rig's alerts service the offline alerts expected are those of the
    offline spells the broker published (:meth:`AlertsWatch.expect_spells`)."""
    with contextlib.ExitStack() as stack:
        seen = None if rig.alerts is None else stack.enter_context(rig.alerts.statuses(rig.gateway))
        hold(rig, 3)
        start = time.time()
        rig.ns.shape(kbit)
        rig.ns.lossy(loss)
        try:
            hold(rig, seconds)
            during = rig.status()  # what the gateway reported last over the bad link
            loss_dropped, shaped = rig.ns.lossy_dropped(), rig.ns.shaped()
        finally:
            rig.ns.lossy(0)
            rig.ns.shape(None)
        end = time.time()
        # statuses watched until the gateway stops (its offline then: a spell left open)
        outcome = _finish(rig, name, end, {"fault_s": round(end - start, 1)})
    health = _health_during(rig, start + 5, end)
    outcome.figures["max_spool_oldest_age_s"] = round(
        max((f["spool_oldest_age"] for f in health), default=0.0), 1
    )
    outcome.figures["last_status_spool_depth"] = during.get("spool_depth", -1)
    # Proof that the faults acted: packets the loss rules dropped, the shaper's queue.
    outcome.figures["nft_dropped_packets"] = loss_dropped
    outcome.figures["tbf_sent_bytes"] = shaped.get("sent_bytes", 0)
    outcome.figures["tbf_overlimits"] = shaped.get("overlimits", 0)
    if rig.relay is not None:
        outcome.figures["mqtt_connections"] = rig.relay.connections
    outcome.figures["uplink_bytes_per_s"] = round(shaped.get("sent_bytes", 0) / seconds)
    if rig.alerts is not None and seen is not None:
        outcome.figures["offline_spells"] = rig.alerts.expect_spells(rig.gateway, seen)
    return _alerts_at_end(rig, outcome)


def crashes(rig: ChaosRig, seconds: float, name: str = "crashes") -> Outcome:
    """Behind a partition of *seconds*, everything crashes once: the gateway is SIGKILLed
    halfway (a power cut as far as the process goes: the spool's WAL is in the page cache)
    and started again, still cut off; then ingest is SIGKILLed, the broker restarted
    (SIGTERM: it persists its sessions) and ingest started again; then the link heals."""
    hold(rig, 3)
    down = time.time()
    rig.ns.partition()
    try:
        hold(rig, seconds / 2)
        assert rig.proc is not None
        rig.proc.send_signal(signal.SIGKILL)
        rig.proc.wait(10)
        rig.proc = None
        rig.start_gateway()
        hold(rig, seconds / 2)
        rig.kill_ingest()
        rig.broker.stop()
        rig.broker.start()
        rig.start_ingest()
    finally:
        rig.ns.heal()
    up = time.time()
    outcome = _finish(rig, name, up, {"fault_s": round(up - down, 1)})
    _expect_offline_spell(rig, down, up)
    return _alerts_at_end(rig, outcome)


def store_and_worker(rig: ChaosRig, seconds: float, name: str = "store_worker") -> Outcome:
    """The server side fails while the gateway streams over a good link: InfluxDB is stopped
    (ingest can store nothing, so it acknowledges nothing), a third of the way in one of the
    three shared-subscription workers is SIGKILLed holding unacknowledged messages, at two
    thirds InfluxDB comes back, and at the end the killed worker is started again under its
    client id (its session holds its share meanwhile: Mosquitto 2.0.11 does not hand it to
    the others, ingest/service.py). With ``Link(alerts_after_s=...)``, ``alerts run`` runs
    throughout (it writes its gauge into the InfluxDB that is away)."""
    assert rig.link.workers == 3, "this scenario needs Link(workers=3)"
    hold(rig, 3)
    down = time.time()
    rig.influx.stop()
    try:
        hold(rig, seconds / 3)
        rig.kill_ingest(1)
        hold(rig, seconds / 3)
    finally:
        if rig.influx.proc is None:
            rig.influx.start()
    store_down = time.time() - down
    hold(rig, seconds / 3)
    rig.start_ingest(1)
    up = time.time()
    figures = {"fault_s": round(up - down, 1), "store_down_s": round(store_down, 1)}
    # The gateway's spool drains at once (the broker took everything); ingest's backlog is
    # what remains, and the count waits for it. Alerts come from the broker, not the store:
    # with the rig's alerts service, none is missed or doubled while InfluxDB is away.
    return _alerts_at_end(rig, _finish(rig, name, up, figures, settle=180))


def disk_full(
    rig: ChaosRig, seconds: float, headroom_kib: int = 192, name: str = "disk_full"
) -> Outcome:
    """The gateway's disk fills up while its link is down (a long offline spell is when a
    spool grows): a filler takes all of the spool's small filesystem but *headroom_kib*, the
    link is cut, and for *seconds* the readings pile up until the disk is full; the spool
    refuses the rest, the gateway counts them (``spool_errors``) and keeps running. Then space
    returns (the filler goes), the spool takes readings again, the link heals and the backlog
    drains. Needs ``Link(spool_fs_kib=...)``."""
    assert rig.link.spool_fs_kib, "this scenario needs Link(spool_fs_kib=...)"
    fs = rig.spool.parent
    hold(rig, 3)
    filler = smallfs.fill(fs, headroom_kib * 1024)
    down = time.time()
    rig.ns.partition()
    try:
        hold(rig, seconds)
        smallfs.free_up(fs)
        refused_while_full = len(read_refused(rig))
        hold(rig, 3)  # the spool takes readings again, still offline
    finally:
        smallfs.free_up(fs)
        rig.ns.heal()
    up = time.time()
    figures = {
        "fault_s": round(up - down, 1),
        "fs_kib": rig.link.spool_fs_kib,
        "filler_kib": filler // 1024,
        "refused_while_full": refused_while_full,
    }
    drained = rig.wait_drained(up, timeout=600)
    figures["drain_s"] = round(time.time() - up, 1)
    assert drained, f"backlog not drained 600 s after healing:\n{rig.gateway_log.read_text()}"
    errors = rig.status().get("spool_errors", -1)  # the gateway's own count, this run
    figures["spool_errors"] = errors
    figures["refused_after_space_back"] = len(read_refused(rig)) - refused_while_full
    code = rig.stop_gateway(timeout=60)
    assert code == 0, rig.gateway_log.read_text()
    _expect_offline_spell(rig, down, up)
    return _alerts_at_end(rig, Outcome(name, tally(rig), figures))


def clock_jump(
    rig: ChaosRig, seconds: float, forward: float = 3600.0, name: str = "clock_jump"
) -> Outcome:
    """The gateway's clock jumps an hour forward for *seconds*, then back to *seconds* + 10 s
    behind the right time for *seconds* (re-living times it had already stamped), then right
    again (as NTP would set it). Readings carry the gateway clock's time at the observation
    (docs/protocol.md): each stored point's time must fall inside the phase it was taken in,
    shifted by that phase's offset; nothing lost, nothing stored twice. The traffic counter's
    readings carry the counter's own clock (docs/protocol.md 5.1), right all along: they must
    lie in the run by this machine's time (``points_counter_clock``); a zero-count interval in
    the hour the gateway clock skipped (``points_skipped``) is one closed unobserved."""
    start = time.time()
    hold(rig, 3)
    back = -(seconds + 10.0)
    phases: list[tuple[float, float, float]] = [(start - 300, 0.0, 0.0)]  # (from, to, offset)
    for offset in (forward, back):
        t = time.time()
        rig.set_clock(offset)
        phases[-1] = (phases[-1][0], t, phases[-1][2])
        phases.append((t, 0.0, offset))
        hold(rig, seconds)
    t = time.time()
    rig.set_clock(0.0)
    phases[-1] = (phases[-1][0], t, phases[-1][2])
    figures = {"fault_s": round(t - start, 1)}
    outcome = _finish(rig, name, t, figures, status_keys=("stamps_moved",))
    phases.append((t, time.time(), 0.0))
    jumped = phases[1][0]
    placed = place_points(rig, phases, skipped=(jumped, jumped + forward), counter_clock=True)
    outcome.figures.update(placed)
    return _alerts_at_end(rig, outcome)


#: How far a point's time may sit outside its phase: a traffic interval's time is its start
#: (5 s intervals in the rig, plus the 2 s grace), and the clock file is read every 0.1 s.
PLACE_SLACK_S = 10.0
#: The traffic counter's interval readings (docs/protocol.md 5.1).
TRAFFIC_INTERVAL_MEASUREMENTS = ("traffic_flow", "traffic_segment")
#: Readings stamped by the traffic counter's clock, not the gateway's (docs/protocol.md 5.1).
COUNTER_CLOCK_MEASUREMENTS = ("traffic_flow", "traffic", "traffic_segment", "vehicle")


def place_points(
    rig: ChaosRig,
    phases: list[tuple[float, float, float]],
    skipped: tuple[float, float] | None = None,
    counter_clock: bool = False,
) -> dict[str, float]:
    """Counts of the stored points (every reading measurement, but the emit device's, whose
    times are its index) by the phase whose shifted window holds their time. A zero-count
    traffic interval inside *skipped* (the time a forward jump skipped, less the slack at
    each end) is one the jump closed unobserved: ``points_skipped``. With *counter_clock* the
    traffic counter's readings are placed by this machine's time from the first phase's start
    to the last one's end (``points_counter_clock``): the counter's clock is not stepped."""
    counts = {"points_forward": 0, "points_back": 0, "points_misplaced": 0, "points_skipped": 0}
    counts["points_counter_clock"] = 0
    counts["points_unshifted"] = 0  # in a window of the right time only
    shifted = [(a + off - PLACE_SLACK_S, b + off + PLACE_SLACK_S, off) for a, b, off in phases]
    for m in reading_measurements(rig):
        for p in rig.store.points(m, rig.gateway):
            if p.tags.get("sensor") == EMIT:
                continue
            t = p.time_ms / 1000
            if (
                skipped is not None
                and m in TRAFFIC_INTERVAL_MEASUREMENTS
                and p.fields.get("count") == 0
                and skipped[0] + PLACE_SLACK_S < t < skipped[1] - PLACE_SLACK_S
            ):
                counts["points_skipped"] += 1
                continue
            if counter_clock and m in COUNTER_CLOCK_MEASUREMENTS:
                run = phases[0][0] - PLACE_SLACK_S <= t <= phases[-1][1] + PLACE_SLACK_S
                counts["points_counter_clock" if run else "points_misplaced"] += 1
                continue
            offsets = {off for a, b, off in shifted if a <= t <= b}
            if not offsets:
                counts["points_misplaced"] += 1
            elif max(offsets) > 0:
                counts["points_forward"] += 1
            elif min(offsets) < 0:  # the re-lived times: also the first phase's window
                counts["points_back"] += 1
            else:
                counts["points_unshifted"] += 1
    return counts


def clock_unset(rig: ChaosRig, seconds: float, name: str = "clock_unset") -> Outcome:
    """The gateway booted with its clock at 1970 (``Link(clock_offset=...)``: no real-time
    clock, NTP not there yet). For *seconds* its readings are held in the spool with
    provisional times (status ``clock: "unset"``, ``held`` growing; none of its readings in
    InfluxDB); then the clock is set (as NTP would) and the held readings go out with their
    real times: every stored point's time lies between the gateway's start and now."""
    assert rig.link.clock_offset < -1e9, "this scenario needs Link(clock_offset=-time.time())"
    booted = rig.t0 / 1000 + 600  # the rig takes t0 just before it starts the gateway
    held: list[int] = []
    hold(rig, seconds, every=lambda: held.append(rig.status().get("held", -1)))
    status = rig.status()
    figures: dict[str, float] = {
        "fault_s": round(time.time() - booted, 1),
        "held_at_end": status.get("held", -1),
        "held_grew": int(len(held) > 2 and held[-1] > held[1] > 0),
        "unset_in_status": int(status.get("clock") == "unset" and status.get("time") is None),
        "stored_while_unset": stored_points(rig),
    }
    rig.set_clock(0.0)
    t = time.time()
    outcome = _finish(rig, name, t, figures, status_keys=("stamps_moved", "clock"))
    counts = place_points(rig, [(booted, time.time(), 0.0)])
    outcome.figures["points_in_time"] = counts["points_unshifted"]
    outcome.figures["points_misplaced"] = counts["points_misplaced"]
    return _alerts_at_end(rig, outcome)
