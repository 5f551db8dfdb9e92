"""Alerts under load: p99 from a reading's publish to the signed webhook, 500 gateways.

A real Mosquitto, a registry (SQLite) of 500 sites with a road-depth flood ladder each, and
``jagajalan alerts run`` (its own process: evaluation every second, its sender polling every
0.2 s) with the signed webhook on loopback (testkit/receivers.py). 500 gateways publish a
water-level reading every second for the run; at spread times a gateway's water rises over
the waspada line (one reading: an alert) and the time of that publish is kept. Each alert's
latency is the webhook's arrival minus that publish. Prints p50, p99 and max, the alerts
received against those raised, and the service's CPU. Sizes: BENCH_ALERTS_GATEWAYS,
BENCH_ALERTS_DURATION (s), BENCH_ALERTS_STEPS (alerts raised).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from bench.procfs import cpu_seconds
from telemetry import topics
from telemetry.codec import encode_batch
from telemetry.models import Batch, Reading
from testkit import children
from testkit.ingest import wait_for
from testkit.receivers import WebhookReceiver
from testkit.services import mosquitto

RULES = """
[[routes]]
id = "default"
escalation = [{ after_s = 0, contacts = ["piket"] }]

[[rules]]
id = "genangan"
kind = "ladder"
measurement = "water_level"
field = "level"
site_flood = true
hysteresis = 5.0
"""


def _registry(path: Path, gateways: int) -> None:
    lines = []
    for i in range(gateways):
        lines += [
            "[[sites]]",
            f'id = "site-{i:03d}"',
            f'name = "Jl. Uji {i}"',
            'road = "Jl. Uji"',
            'kecamatan = "Sarolangun"',
            f"latitude = {-2.0 - i / 1000:.4f}",
            f"longitude = {102.5 + i / 1000:.4f}",
            "[sites.flood]",
            'ladder = "road_depth"',
            "waspada_cm = 10",
            "siaga_cm = 20",
            "awas_cm = 30",
            "",
        ]
    for i in range(gateways):
        lines += ["[[gateways]]", f'id = "gw-{i:03d}"', f'site = "site-{i:03d}"', ""]
    lines += ["[[contacts]]", 'id = "piket"', 'name = "Piket"', 'role = "operator"']
    lines += ['language = "id"', ""]
    doc = path.with_suffix(".toml")
    doc.write_text("\n".join(lines), encoding="utf-8")
    for argv in (["registry", "init"], ["registry", "import", str(doc)]):
        subprocess.run(
            [sys.executable, "-m", "jagajalan.cli", *argv, "--registry-db", str(path)],
            check=True,
            capture_output=True,
        )


def _batch(gateway: str, seq: int, cm: float) -> bytes:
    now = int(time.time() * 1000)
    reading = Reading(sensor="wl1", measurement="water_level", time=now, fields={"level": cm})
    return encode_batch(Batch(gateway=gateway, seq=seq, sent=now, readings=[reading]))


def main() -> None:
    gateways = int(os.environ.get("BENCH_ALERTS_GATEWAYS", "500"))
    duration = float(os.environ.get("BENCH_ALERTS_DURATION", "60"))
    steps = int(os.environ.get("BENCH_ALERTS_STEPS", "100"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        reg = folder / "registry.sqlite3"
        _registry(reg, gateways)
        (folder / "alerts.toml").write_text(RULES, encoding="utf-8")
        hook = WebhookReceiver(b"bench-webhook-secret").start()
        (folder / "hook.secret").write_bytes(hook.secret)
        with mosquitto(folder / "mosquitto") as broker:
            log = (folder / "alerts.log").open("ab")
            argv = [sys.executable, "-m", "jagajalan.cli", "alerts", "run"]
            argv += ["--broker-url", broker.url, "--registry-db", str(reg)]
            argv += ["--rules-file", str(folder / "alerts.toml"), "--every", "1"]
            argv += ["--poll-s", "0.2", "--webhook-urls", hook.url]
            argv += ["--webhook-secret-file", str(folder / "hook.secret")]
            proc = children.start(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
            try:
                text = lambda: (folder / "alerts.log").read_text()  # noqa: E731
                wait_for(lambda: "event=alerts_connected" in text(), 60, "alerts subscribed")
                wait_for(lambda: "event=alerts_acting" in text(), 60, "alerts acting")
                cpu0 = cpu_seconds(proc.pid)
                raised = _load(broker.port, gateways, duration, steps)
                wait_for(lambda: len(hook.accepted) >= len(raised), 60, "every alert at the hook")
                cpu = cpu_seconds(proc.pid) - cpu0
            finally:
                children.stop(proc)
                hook.stop()
    latencies = []
    for key, body in hook.accepted.items():
        event = json.loads(body)["event"]
        if event["kind"] == "raised" and event["gateway"] in raised:
            latencies.append(hook.arrived[key] - raised[event["gateway"]])
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))]

    readings = gateways * duration
    print(f"alerts_gateways {gateways}")
    print(f"alerts_readings_per_s {readings / duration:.0f}")
    print(f"alerts_raised {len(raised)}")
    print(f"alerts_at_webhook {len(latencies)}")
    print(f"alerts_publish_to_webhook_p50_s {pct(0.50):.2f}")
    print(f"alerts_publish_to_webhook_p99_s {pct(0.99):.2f} (target < 5)")
    print(f"alerts_publish_to_webhook_max_s {latencies[-1]:.2f}")
    print(f"alerts_service_cpu_s_per_1000_readings {cpu / readings * 1000:.3f}")


def _load(port: int, gateways: int, duration: float, steps: int) -> dict[str, float]:
    """Every gateway a reading a second for *duration* s; *steps* gateways rise over waspada
    at spread times (their publish times returned, by gateway)."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    names = [f"gw-{i:03d}" for i in range(gateways)]
    rising = {names[i * gateways // steps]: 5 + (duration - 10) * i / steps for i in range(steps)}
    raised: dict[str, float] = {}
    start, seq = time.time(), 0
    stop = threading.Event()
    while not stop.is_set() and time.time() - start < duration:
        second = time.time()
        for gw in names:
            at = rising.get(gw)
            high = at is not None and second - start >= at
            info = client.publish(topics.readings(gw), _batch(gw, seq, 15.0 if high else 0.0), 1)
            if high and gw not in raised:
                info.wait_for_publish(5)
                raised[gw] = time.time()
        seq += 1
        stop.wait(max(0.0, 1.0 - (time.time() - second)))
    client.loop_stop()
    client.disconnect()
    return raised


if __name__ == "__main__":
    main()
