"""Fleet load generator: 500 gateways x 1 batch/s for 60 s against a real Mosquitto.

Runs ``jagajalan simulate fleet`` as its own process (so its CPU is measured alone) against a
Mosquitto started here (testkit/services.py; ``max_queued_messages 0``, so the broker drops
nothing), counts every batch with a subscriber, and prints the achieved rate, the CPU of the
fleet process and of the broker, and whether the subscriber saw exactly what the fleet says
it sent. Sizes can be changed with BENCH_FLEET_GATEWAYS, BENCH_FLEET_RATE, BENCH_FLEET_DURATION.
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
from testkit import children
from testkit.services import mosquitto


class _Counter:
    def __init__(self, port: int) -> None:
        self.count = 0
        self.per_topic: dict[str, int] = {}
        self.lock = threading.Lock()
        ready = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(topics.ALL_READINGS, qos=1)
        self.client.loop_start()
        if not ready.wait(10):
            raise RuntimeError("bench subscriber got no SUBACK")

    def _on_message(self, _c, _u, msg) -> None:
        with self.lock:
            self.count += 1
            self.per_topic[msg.topic] = self.per_topic.get(msg.topic, 0) + 1

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def main() -> None:
    gateways = int(os.environ.get("BENCH_FLEET_GATEWAYS", "500"))
    rate = float(os.environ.get("BENCH_FLEET_RATE", "1"))
    duration = float(os.environ.get("BENCH_FLEET_DURATION", "60"))
    with tempfile.TemporaryDirectory() as tmp, mosquitto(Path(tmp) / "mq") as broker:
        counter = _Counter(broker.port)
        summary_path = Path(tmp) / "summary.json"
        cmd = [
            sys.executable,
            "-m",
            "jagajalan.cli",
            "--log-level",
            "WARNING",
            "simulate",
            "fleet",
            "--gateways",
            str(gateways),
            "--rate",
            str(rate),
            "--duration",
            str(duration),
            "--broker-url",
            broker.url,
            "--summary",
            str(summary_path),
            "--progress",
            "10",
        ]
        assert broker.proc is not None
        broker_cpu0 = cpu_seconds(broker.proc.pid)
        started = time.monotonic()
        log = Path(tmp) / "fleet.log"
        with log.open("w") as err:
            proc = children.start(cmd, stdout=subprocess.DEVNULL, stderr=err)
            _, status, usage = os.wait4(proc.pid, 0)  # rusage of the fleet process alone
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
        broker_cpu = cpu_seconds(broker.proc.pid) - broker_cpu0
        if proc.returncode not in (0, 1) or not summary_path.exists():
            counter.close()
            raise RuntimeError(f"fleet exited {proc.returncode}:\n{log.read_text()[-2000:]}")
        summary = json.loads(summary_path.read_text())
        deadline = time.monotonic() + 30
        while counter.count < summary["totals"]["acked"] and time.monotonic() < deadline:
            time.sleep(0.1)
        counter.close()
    totals, achieved = summary["totals"], summary["achieved"]
    per_gateway_ok = all(
        counter.per_topic.get(topics.readings(g), 0) == d["acked"]
        for g, d in summary["per_gateway"].items()
    )
    cpu = usage.ru_utime + usage.ru_stime
    print(
        f"fleet_gateways {gateways} x {rate:g} batch/s x {duration:g} s, "
        f"{summary['batch_size']} readings/batch"
    )
    print(f"fleet_target_rate {achieved['target_batches_per_s']:.1f} batches/s")
    print(
        f"fleet_achieved_rate {achieved['batches_per_s']:.1f} batches/s "
        f"({achieved['readings_per_s']:.0f} readings/s)"
    )
    print(
        f"fleet_acked {totals['acked']} of {totals['published']} published "
        f"(refused {totals['refused']}, unacked {totals['unacked']})"
    )
    print(
        f"fleet_subscriber_counted {counter.count} "
        f"(per gateway equal to acked: {'yes' if per_gateway_ok else 'NO'})"
    )
    print(f"fleet_max_lag {achieved['max_lag_s']:.3f} s")
    print(
        f"fleet_process_cpu {cpu:.1f} s = {100 * cpu / wall:.0f} % of one core over "
        f"{wall:.1f} s (incl. start-up and connecting)"
    )
    print(f"fleet_broker_cpu {broker_cpu:.1f} s = {100 * broker_cpu / wall:.0f} % of one core")
    print(f"fleet_bytes_per_batch {totals['bytes_acked'] / max(totals['acked'], 1):.0f} bytes")
    if not per_gateway_ok or counter.count != totals["acked"]:
        raise RuntimeError("the subscriber's count differs from what the fleet says it sent")


if __name__ == "__main__":
    main()
