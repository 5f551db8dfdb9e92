"""Issue 12's acceptance on the real chain over the simulators' ground truth: the
``rainy_season_flood`` and ``haze_episode`` scenarios, their truth JSONL written by the
scenario runner (simulators/scenario/run.py), replayed on an accelerated scenario clock as
gateways' readings batches through a real Mosquitto to ``jagajalan alerts run`` (a process, the
registry imported from examples/registry.toml), whose outbox delivers to a signed webhook on
loopback (testkit/receivers.py: it checks the signature and counts each idempotency key).
Every level step of every site is told exactly once at the webhook, in order, and the alert's
end once ("resolved").

The expected steps are computed from the truth by :func:`expected`, written from the ladder's
documented meaning and not from the engine: each level is its own comparator, raised at
``value >= threshold`` and cleared at ``value < threshold - hysteresis``; the level is the
highest raised one. The flood ladders are each site's in examples/registry.toml; the haze
ladder is the ISPU categories' PM2.5 breakpoints (analytics/ispu.py).

What is not real here: the roadside cabinets and gateways. The test publishes the truth's
values as the gateways would (the telemetry codec, one batch per site and sample, a growing
seq) instead of running serial emulators and ``gateway run`` for every site: that path is
tested on its own (tests/jagajalan/test_demo_story.py, tests/gateway/), and replaying the
truth exactly is what lets the expected steps be known. The clock: the scenario runs at a
multiple of its file's speed (two days in 7.5 s, a week in 7 s).

How "exactly once" is known without waiting for nothing to happen: after the truth, a
sentinel gateway's Last-Will-like ``offline`` status raises a ``gateway-offline`` alert; the
service handles messages in order and the outbox sends in due order, so once the sentinel's
notification is at the webhook, every step before it is there too, and nothing else is.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from jagajalan.cli import main
from simulators.scenario.engine import Scenario
from simulators.scenario.run import ScenarioRunner
from simulators.truth import TruthWriter, read_truth
from telemetry import topics
from telemetry.codec import encode_batch
from telemetry.models import Batch, Reading
from testkit import REPO, children
from testkit.ingest import Publisher, status_bytes, wait_for
from testkit.receivers import WebhookReceiver
from testkit.services import mosquitto
from tests.alerts.test_service import start

pytestmark = pytest.mark.services

SENTINEL = "srl-sentinel-99"
HAZE_LEVELS = {"tidak_sehat": 55.5, "sangat_tidak_sehat": 150.5, "berbahaya": 250.5}
HAZE_HYSTERESIS = 15.0
FLOOD_HYSTERESIS = 5.0

RULES = f"""
[[routes]]
id = "default"
reminder_s = 86400
escalation = [{{ after_s = 0, contacts = ["ruang-kendali"] }}]

[[rules]]
id = "genangan"
kind = "ladder"
measurement = "water_level"
field = "level"
site_flood = true
hysteresis = {FLOOD_HYSTERESIS}

[[rules]]
id = "pm25"
kind = "ladder"
measurement = "air_quality"
field = "pm25"
levels = {{ tidak_sehat = 55.5, sangat_tidak_sehat = 150.5, berbahaya = 250.5 }}
hysteresis = {HAZE_HYSTERESIS}

[[rules]]
id = "gateway-offline"
kind = "state"
measurement = "gateway_status"
field = "state"
bad = ["offline"]
after_s = 0
severity = "critical"
"""


@dataclass(frozen=True)
class Case:
    scenario: str
    rule: str
    signal: str  # the truth's value
    faster: float  # the test's clock runs this many times the file's speed


CASES = [
    Case("rainy_season_flood", "genangan", "water_level", 16),
    Case("haze_episode", "pm25", "pm25", 10),
]


def flood_ladders() -> dict[str, dict[str, float]]:
    """Each gateway's flood ladder (cm) from examples/registry.toml."""
    doc = tomllib.loads((REPO / "examples" / "registry.toml").read_text(encoding="utf-8"))
    sites = {s["id"]: s.get("flood") for s in doc["sites"]}
    out = {}
    for g in doc["gateways"]:
        flood = sites.get(g.get("site"))
        if flood and flood.get("ladder", "road_depth") == "road_depth":
            out[g["id"]] = {k: flood[f"{k}_cm"] for k in ("waspada", "siaga", "awas")}
    return out


def expected(
    series: Iterable[tuple[int, float]], levels: dict[str, float], hysteresis: float
) -> list[tuple[str, str, int]]:
    """(kind, level, time ms) of each step of *series* over the ladder *levels*."""
    names, thresholds = list(levels), list(levels.values())
    raised = [False] * len(thresholds)
    level, out = 0, []
    for t, v in series:
        for i, threshold in enumerate(thresholds):
            raised[i] = v >= threshold if not raised[i] else v >= threshold - hysteresis
        new = max((i + 1 for i, r in enumerate(raised) if r), default=0)
        if new != level:
            kind = "raised" if level == 0 else "resolved" if new == 0 else "changed"
            out.append((kind, "normal" if new == 0 else names[new - 1], t))
            level = new
    return out


def reading(signal: str, values: dict[str, float], t: int) -> Reading | None:
    if signal == "water_level" and "water_level" in values:
        fields = {"level": values["water_level"], "distance": values["water_distance"]}
        return Reading(sensor="wl1", measurement="water_level", time=t, fields=fields)
    if signal == "pm25":
        fields = {"pm25": values["pm25"], "pm10": values["pm10"]}
        return Reading(sensor="env1", measurement="air_quality", time=t, fields=fields)
    return None


@pytest.mark.parametrize("case", CASES, ids=[c.scenario for c in CASES])
def test_each_level_step_is_told_once_at_the_webhook(case: Case, tmp_path: Path) -> None:
    scenario = Scenario.load(REPO / "simulators" / "scenarios" / f"{case.scenario}.toml")
    truth_path = tmp_path / "truth.jsonl"
    writer = TruthWriter(truth_path)
    ScenarioRunner(scenario, truth=writer).run()  # unpaced: the same bytes as at any speed
    writer.close()
    samples = [r for r in read_truth(truth_path) if r["kind"] == "scenario"]
    ladders = flood_ladders()
    want: dict[str, list[tuple[str, str, int]]] = {}
    for gateway in scenario.sites:
        series = [
            (r["time"], r["values"][case.signal])
            for r in samples
            if r["device"] == gateway and case.signal in r["values"]
        ]
        if case.rule == "genangan":
            if gateway not in ladders:
                continue
            steps = expected(series, ladders[gateway], FLOOD_HYSTERESIS)
        else:
            steps = expected(series, HAZE_LEVELS, HAZE_HYSTERESIS)
        if steps:
            want[gateway] = steps
    # The scenario must tell a story: at least one site up three steps and back to normal.
    assert any(len(s) >= 4 and s[-1][0] == "resolved" for s in want.values()), want

    with mosquitto(tmp_path / "mosquitto") as broker:
        reg = tmp_path / "registry.sqlite3"
        assert main(["registry", "init", "--registry-db", str(reg)]) == 0
        example = str(REPO / "examples" / "registry.toml")
        assert main(["registry", "import", example, "--registry-db", str(reg)]) == 0
        rules = tmp_path / "alerts.toml"
        rules.write_text(RULES, encoding="utf-8")
        log = tmp_path / "alerts.log"
        hook = WebhookReceiver(b"ground-truth-webhook-key").start()
        service = start(broker, reg, rules, log, "alerts.truth", hook)
        pub = Publisher(broker.port)
        try:
            wait_for(lambda: "event=alerts_connected" in log.read_text(), 30, "subscribed")
            wait_for(lambda: "event=alerts_acting" in log.read_text(), 30, "acting")
            clock = scenario.clock(scenario.speed * case.faster)
            seq: dict[str, int] = {}
            for r in samples:
                one = reading(case.signal, r["values"], r["time"])
                if one is None:
                    continue
                clock.wait_until(r["time"] / 1000)
                gateway = r["device"]
                seq[gateway] = seq.get(gateway, -1) + 1
                batch = Batch(gateway=gateway, seq=seq[gateway], sent=r["time"], readings=[one])
                pub.send(topics.readings(gateway), encode_batch(batch))
            pub.send(topics.status(SENTINEL), status_bytes(SENTINEL, "offline"))

            def told() -> list[dict]:
                return [json.loads(b)["event"] for b in list(hook.accepted.values())]

            wait_for(
                lambda: any(e["gateway"] == SENTINEL for e in told()),
                60,
                f"the sentinel after {sum(map(len, want.values()))} steps; log:\n"
                + log.read_text()[-3000:],
            )
        finally:
            pub.close()
            hook.stop()
            if service.poll() is None:
                children.stop(service)
    got: dict[str, list[tuple[str, str, int]]] = {}
    for e in sorted(told(), key=lambda e: e["time"]):
        if e["gateway"] == SENTINEL:
            continue
        assert e["rule"] == case.rule, e
        ms = round(_epoch(e["time"]) * 1000)
        got.setdefault(e["gateway"], []).append((e["kind"], e["level"], ms))
    assert got == want, (got, want)
    assert sum(map(len, got.values())) >= (6 if case.rule == "genangan" else 20)
    assert hook.rejected == 0 and set(hook.raw.values()) == {1}  # each key once, all signed
    text = log.read_text()
    assert "Traceback" not in text, text


def _epoch(iso: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
