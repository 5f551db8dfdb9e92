"""The soak: many gateways for a long time with faults at random times, on a running
:class:`ChaosRig` made with ``Link(workers=3, alerts_after_s=..., users=fleet_users(n))``.

- the bulk of the gateways: ``jagajalan simulate fleet`` (one process, every gateway its own
  MQTT connection and broker user, exact counts of the readings each had acknowledged: its
  ``--summary``), beside the rig's real gateway in its namespace (spool, emulated cabinet);
- the services: Mosquitto, three ingest workers on the shared subscription, InfluxDB,
  ``analytics run``, ``alerts run`` (with a loopback webhook) and ``api run`` (asked for
  ``/health`` and ``/gateways`` at every sample, so it works);
- faults at times drawn from a seeded RNG, one after the other: the broker restarted, InfluxDB
  stopped 10 s and started, an ingest worker SIGKILLed and started again, the real gateway
  SIGKILLed (a power cut) and started again once it has been offline long enough to raise
  ``gateway-offline``;
- every service's RSS sampled every few seconds (:mod:`testkit.chaos.rss`);
- at the end the fleet stops (each gateway says offline: one alert each), the alerts service
  is SIGKILLed while the webhook holds one of those alerts' requests, and started again;
  the real gateway drains and stops. Counted: per fleet gateway the readings acknowledged
  vs the points stored, the real gateway's :class:`Tally`, alerts expected vs delivered.
"""

from __future__ import annotations

import json
import random
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from telemetry.codec import decode_batch
from testkit import REPO, children
from testkit.chaos.rig import EMIT, ChaosRig
from testkit.chaos.rss import RssSampler
from testkit.chaos.scenarios import Outcome
from testkit.chaos.tally import is_reading_measurement, tally
from testkit.gateway import read_emit_log, wait_until
from testkit.procs import stop
from testkit.services import free_port

FAULT_KINDS = ("broker", "influxdb", "ingest", "gateway")
PREFIX = "soak"


@dataclass
class SoakPlan:
    seconds: float
    gateways: int = 200
    rate: float = 0.1  # batches per second per fleet gateway (10 readings each)
    seed: int = 15
    faults: int = 8
    kinds: tuple[str, ...] = FAULT_KINDS  # drawn from, each at least once if faults allow
    settle: float = 300  # s the counts wait for ingest's backlog at most


def fleet_users(n: int) -> dict[str, str]:
    """The fleet's gateways and their broker passwords (made for the run)."""
    return {f"{PREFIX}-{i:04d}": secrets.token_urlsafe(18) for i in range(1, n + 1)}


def schedule(plan: SoakPlan) -> list[tuple[float, str]]:
    """(seconds into the run, fault) for each fault, from the plan's seed."""
    rng = random.Random(plan.seed)
    kinds = list(plan.kinds) * (plan.faults // len(plan.kinds) + 1)
    rng.shuffle(kinds)
    first = [k for k in plan.kinds if k not in kinds[: plan.faults]]
    chosen = (first + kinds)[: plan.faults]
    rng.shuffle(chosen)
    times = sorted(rng.uniform(0.1, 0.8) * plan.seconds for _ in chosen)
    return list(zip(times, chosen, strict=True))


def _start(rig: ChaosRig, name: str, args: list[str]) -> subprocess.Popen:
    log = rig.logs / f"{name}.log"
    out = log.open("ab")
    cmd = [sys.executable, "-m", "jagajalan.cli", "--log-level", "INFO", *args]
    return children.start(cmd, cwd=REPO, stdout=out, stderr=out, stdin=subprocess.DEVNULL)


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def per_gateway_points(rig: ChaosRig) -> dict[str, int]:
    """Points in InfluxDB per fleet gateway, over the reading measurements."""
    q = f"SELECT count(*) FROM /.*/ WHERE gateway =~ /^{PREFIX}-/ GROUP BY *"
    result = rig.influx.query(q, db=rig.db)["results"][0]
    counts: dict[str, int] = {}
    for series in result.get("series", []):
        if not is_reading_measurement(series["name"]):
            continue
        gw = series.get("tags", {}).get("gateway", "")
        for row in series.get("values", []):
            counts[gw] = counts.get(gw, 0) + max((int(v) for v in row[1:] if v), default=0)
    return counts


def _fault(rig: ChaosRig, kind: str, rng: random.Random) -> None:
    if kind == "broker":
        rig.broker.stop()  # SIGTERM: it persists its sessions
        rig.broker.start()
    elif kind == "influxdb":
        rig.influx.stop()
        time.sleep(10)  # the outage (an experiment's length, not a wait for something)
        rig.influx.start()
    elif kind == "ingest":
        worker = rng.randrange(rig.link.workers)
        rig.kill_ingest(worker)
        time.sleep(5)
        rig.start_ingest(worker)
    elif kind == "gateway":
        assert rig.proc is not None and rig.alerts is not None
        rig.proc.send_signal(signal.SIGKILL)
        rig.proc.wait(10)
        rig.proc = None
        # Down until its Last Will (1.5 keepalives) has been offline long enough to raise.
        time.sleep(1.5 * rig.link.keepalive + rig.alerts.after_s + 5)
        rig.start_gateway()
        rig.wait_online()
        rig.alerts.expect(rig.gateway, "raised")
        rig.alerts.expect(rig.gateway, "resolved")
    else:
        raise ValueError(f"unknown fault {kind!r}")


@dataclass
class Services:
    """The processes the soak starts beside the rig's: the fleet, the API, analytics."""

    rig: ChaosRig
    fleet: subprocess.Popen
    api: subprocess.Popen
    analytics: subprocess.Popen
    api_url: str
    requests: dict[str, int] = field(default_factory=lambda: {"ok": 0, "failed": 0})

    def pids(self) -> dict[str, int]:
        """Every service's live process (sampled by :class:`RssSampler`)."""
        rig = self.rig
        procs = {"mosquitto": rig.broker.proc, "influxd": rig.influx.proc, "gateway": rig.proc}
        procs |= dict(list(rig.procs.items()))  # a fault may change it meanwhile
        procs |= {"fleet": self.fleet, "api": self.api, "analytics": self.analytics}
        procs["alerts"] = rig.alerts.proc if rig.alerts is not None else None
        return {n: p.pid for n, p in procs.items() if p is not None and p.poll() is None}

    def ask_api(self) -> None:
        """Two requests a sample, so that the API works while its memory is watched."""
        try:
            ok = _get(f"{self.api_url}/health") in (200, 503)
            ok = ok and _get(f"{self.api_url}/gateways") == 200
        except OSError:
            ok = False
        self.requests["ok" if ok else "failed"] += 1

    def stop(self) -> None:
        for p in (self.fleet, self.api, self.analytics):
            if p.poll() is None:
                stop(p)


def soak(rig: ChaosRig, plan: SoakPlan, name: str = "soak") -> Outcome:
    from jagajalan.demo_parts import prepare_registry

    assert rig.alerts is not None and rig.link.users, "the soak needs alerts and fleet users"
    work = rig.tmp / "soak"
    work.mkdir(exist_ok=True)
    creds = work / "fleet.credentials"
    creds.write_text("".join(f"{g}:{p}\n" for g, p in rig.link.users.items()))
    creds.chmod(0o600)
    registry = str(prepare_registry(work).path)
    store = ["--influx-url", rig.influx.url, "--influx-db", rig.db]
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    serve = ["api", "run", "--host", "127.0.0.1", "--port", str(port), *store]
    api = _start(rig, "api", [*serve, "--registry-db", registry, "--public-read", "all"])
    try:
        assert wait_until(lambda: api.poll() is None and _probe(api_url), 60, 0.5), "api"
        job = ["analytics", "run", *store, "--registry-db", registry, "--every", "10"]
        analytics = _start(rig, "analytics", job)
        args = ["simulate", "fleet", "--credentials", str(creds), "--rate", str(plan.rate)]
        args += ["--duration", str(plan.seconds), "--broker-url", rig.broker.url]
        args += ["--summary", str(work / "fleet-summary.json"), "--encoding", "compact"]
        args += ["--seed", str(plan.seed), "--drain-timeout", "120", "--progress", "30"]
        fleet = _start(rig, "fleet", args)
    except BaseException:
        stop(api)
        raise
    services = Services(rig, fleet, api, analytics, api_url)
    try:
        return _run(rig, plan, name, services)
    finally:
        services.stop()


def _run(rig: ChaosRig, plan: SoakPlan, name: str, services: Services) -> Outcome:
    """The soak's run, its end and its counts (:func:`soak` started the processes)."""
    fleet, api, analytics = services.fleet, services.api, services.analytics
    assert rig.alerts is not None
    summary = rig.tmp / "soak" / "fleet-summary.json"
    start = time.monotonic()
    every = min(5.0, plan.seconds / 20)
    sampler = RssSampler(services.pids, every=every, also=services.ask_api).start()
    rng = random.Random(plan.seed + 1)
    done: list[str] = []
    try:
        for at, kind in schedule(plan):
            while time.monotonic() < start + at:
                assert fleet.poll() is None, (rig.logs / "fleet.log").read_text()[-3000:]
                time.sleep(min(1.0, max(0.0, start + at - time.monotonic())))
            _fault(rig, kind, rng)
            done.append(f"{round(time.monotonic() - start)}s {kind}")
        code = fleet.wait(timeout=max(0, start + plan.seconds - time.monotonic()) + 300)
        end = time.monotonic()
    finally:
        sampler.stop()
    assert code == 0, (rig.logs / "fleet.log").read_text()[-3000:]
    exited = [n for n, p in (("api", api), ("analytics", analytics)) if p.poll() is not None]
    # The slope over the second half of the run after a warm-up of a minute (at most a quarter).
    figures: dict[str, float] = sampler.figures(start + min(60, plan.seconds / 4), end)
    figures |= {"soak_s": round(end - start), "faults": len(done), "fault_log": "; ".join(done)}
    requests = services.requests
    figures |= {"api_requests_ok": requests["ok"], "api_requests_failed": requests["failed"]}
    figures["services_exited"] = len(exited)
    # Every fleet gateway said offline at its clean stop: one alert each. The alerts service
    # is SIGKILLed while the webhook holds one of their requests.
    alerts = rig.alerts
    for gw in rig.link.users:
        alerts.expect(gw, "raised")
    alerts.hook.hold_after = alerts.hook.requests + 3
    assert wait_until(lambda: alerts.hook.requests > (alerts.hook.hold_after or 0), 120, 0.05)
    alerts.kill()
    figures["alerts_delivered_at_kill"] = sum(alerts.delivered().values())
    alerts.hook.release.set()
    alerts.start()
    figures |= fleet_counts(rig, json.loads(summary.read_text()), summary.parent, plan.settle)
    for p in (api, analytics):
        stop(p)
    drained = rig.wait_drained(time.time() - 5, timeout=600)
    assert drained, rig.gateway_log.read_text()[-3000:]
    assert rig.stop_gateway(timeout=60) == 0, rig.gateway_log.read_text()[-3000:]
    alerts.expect(rig.gateway, "raised")
    alerts.expect_count(rig.gateway, read_emit_log(rig.emit_log))
    outcome = Outcome(name, tally(rig, settle=plan.settle), figures)
    # Of the e1 readings lost, those the broker took (its recorder, a persistent session of
    # its own, not shared, received them): lost between the broker and ingest.
    seen = set()
    for m in rig.recorder.on(f"jagajalan/v1/{rig.gateway}/readings"):
        seen |= {r.time - rig.t0 for r in decode_batch(m.payload).readings if r.sensor == EMIT}
    figures["emit_lost_the_broker_had"] = len(set(outcome.tally.emit_lost) & seen)
    outcome.figures.update(alerts.figures(timeout=plan.settle))
    return outcome


def _probe(url: str) -> bool:
    try:
        return _get(f"{url}/health") in (200, 503)
    except OSError:
        return False


def fleet_counts(rig: ChaosRig, summary: dict, work: Path, settle: float = 300) -> dict:
    """Per fleet gateway: readings acknowledged vs points stored (waits up to *settle* s for
    ingest's backlog); the table goes to ``fleet-counts.json`` in the run's folder."""
    per = summary["per_gateway"]
    acked = {g: d["readings_acked"] for g, d in per.items()}
    published = {g: d["readings_published"] for g, d in per.items()}
    wait_until(
        lambda: all(per_gateway_points(rig).get(g, 0) >= n for g, n in acked.items()), settle, 2
    )
    time.sleep(2.0)  # anything beyond the acknowledged would show now
    stored = per_gateway_points(rig)
    lost = {g: n - stored.get(g, 0) for g, n in acked.items() if stored.get(g, 0) < n}
    extra = {g: stored[g] - published.get(g, 0) for g in stored if stored[g] > published.get(g, 0)}
    table = {
        g: {"published": published[g], "acked": acked[g], "stored": stored.get(g, 0)} for g in per
    }
    (work / "fleet-counts.json").write_text(json.dumps(table, indent=1) + "\n")
    totals = summary["totals"]
    return {
        "fleet_gateways": summary["gateways"],
        "fleet_published": totals["readings_published"],
        "fleet_acked": totals["readings_acked"],
        "fleet_unacked_batches": totals["unacked"],
        "fleet_stored": sum(stored.get(g, 0) for g in per),
        "fleet_lost": sum(lost.values()),
        "fleet_duplicates": sum(extra.values()),
        "fleet_gateways_matching": sum(1 for g in per if stored.get(g, 0) == acked[g]),
        "fleet_failed_to_connect": totals["gateways_failed_to_connect"],
        "fleet_max_lag_s": summary["achieved"]["max_lag_s"],
        "fleet_readings_per_s": summary["achieved"]["readings_per_s"],
    }
