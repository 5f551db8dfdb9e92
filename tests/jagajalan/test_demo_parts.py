"""`jagajalan demo` prepares the example registry in its folder, runs the indicators job on
its scenario's clock and the alerts service (jagajalan/demo_parts.py): the real demo runs
until the job has written the hourly ISPU and the flood status of its sites into the demo's
store and the haze of the default scenario has raised alerts (examples/alerts-demo.toml),
told in Bahasa Indonesia on the MQTT alert topic of the demo's broker (a real subscriber),
listed by `GET /alerts` and counted on the status board; then it stops like Ctrl-C;
`jagajalan registry list` on the demo's registry lists the demo's sites."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt

from jagajalan.demo_parts import REGISTRY_FILE, alerts_argv, analytics_argv, prepare_registry
from kernel.text import tr
from simulators.scenario.engine import Scenario
from store.sqlite import SQLiteStore
from testkit import children
from testkit.ingest import wait_for
from testkit.services import free_port

SITES = {"srl-pasar-01", "srl-pauh-01"}  # first_rains, the demo's default


def jagajalan(*argv: str) -> list[str]:
    return [sys.executable, "-m", "jagajalan.cli", *argv]


def test_the_demo_writes_indicators_and_holds_the_example_registry(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    out_path = tmp_path / "demo.out"
    out = out_path.open("wb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAGAJALAN_")}
    argv = jagajalan("demo", "--dir", str(folder), "--api-port", str(free_port()))
    started = time.monotonic()
    proc = children.start(argv, stdout=out, stderr=out, stdin=subprocess.DEVNULL, env=env)
    try:
        wait_for(lambda: (folder / "demo.json").exists() or proc.poll() is not None, 60, "demo")
        assert proc.poll() is None, out_path.read_text()
        state = json.loads((folder / "demo.json").read_text())
        told: list[tuple[str, dict]] = []
        # The embedded broker (amqtt) speaks MQTT 3.1.1.
        sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        sub.on_connect = lambda c, *_: c.subscribe("jagajalan/v1/alerts/#", qos=1)
        sub.on_message = lambda _c, _u, m: told.append((m.topic, json.loads(m.payload)))
        host, port = state["broker_url"].removeprefix("mqtt://").rsplit(":", 1)
        sub.connect(host, int(port))
        sub.loop_start()
        store = SQLiteStore(folder / "jagajalan.sqlite")

        def indicators() -> bool:
            assert proc.poll() is None, out_path.read_text()
            ispu = {p.tags["gateway"] for p in store.points("jagajalan_ispu_hourly")}
            flood = {p.tags["gateway"] for p in store.points("jagajalan_flood_status")}
            return ispu == SITES and flood == SITES

        wait_for(indicators, 50, "the demo's hourly ISPU and flood status")
        elapsed = time.monotonic() - started

        def haze_told() -> bool:
            assert proc.poll() is None, out_path.read_text()
            return {t for t, _ in told} >= {f"jagajalan/v1/alerts/{g}/debu-pm25" for g in SITES}

        # first_rains: PM2.5 passes Tidak Sehat at about 02:00 WIB, 30 s into the demo.
        wait_for(haze_told, 60, "the haze alerts on the MQTT alert topic")
        payload = next(p for t, p in told if t.endswith("srl-pasar-01/debu-pm25"))
        assert payload["event"]["kind"] == "raised" and payload["lang"] == "id", payload
        assert "Tidak Sehat" in payload["text"] and "Pasar Sarolangun" in payload["text"]
        assert f"{state['api_url']}/peta?site=pasar-sarolangun" in payload["text"], payload
        listed = httpx.get(f"{state['api_url']}/alerts", params={"state": "firing"}, timeout=5)
        firing = {(a["rule"], a["gateway"]) for a in listed.json()}
        assert {("debu-pm25", g) for g in SITES} <= firing, firing
        board = re.compile(r"peringatan aktif: ([1-9]\d*)")
        wait_for(lambda: board.search(out_path.read_text()), 15, "the count on the board")
        sub.loop_stop()
        sub.disconnect()
        ispu = store.points("jagajalan_ispu_hourly")
        flood = store.points("jagajalan_flood_status")
        store.close()
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert proc.wait(60) == 0, out_path.read_text()
    finally:
        if proc.poll() is None:
            children.stop(proc)
    print(f"hourly ISPU of both sites {elapsed:.0f} s after the demo started")
    # The first scenario hour is written at the real time the scenario began (its origin).
    assert all(p.fields["category"] in ("baik", "sedang") for p in ispu[:2]), ispu
    shown = out_path.read_text()
    assert tr("demo.banner.indicators_value", "id", every=2) in shown
    assert str(folder / REGISTRY_FILE) in shown
    analytics = (folder / "logs" / "analytics.log").read_text()
    assert "clock=scenario" in analytics and "Traceback" not in analytics, analytics
    assert "event=indicators_stopped" in analytics  # stopped with the others
    alerts = (folder / "logs" / "alerts.log").read_text()
    assert "Traceback" not in alerts and "event=alerts_stopped" in alerts, alerts
    assert tr("demo.count.alerts", "id", n=0) in shown  # before the haze: counted, none
    # The sites' parameters come from the demo's registry: its road_depth ladders name the
    # levels waspada / siaga / awas (the job file's default ladder names them hati_hati ...).
    assert f"event=indicators_sites registry=sqlite+pysqlite:///{folder / REGISTRY_FILE}" in (
        analytics
    ), analytics
    assert {p.fields["level"] for p in flood} <= {"normal", "waspada", "siaga", "awas"}, flood
    listed = subprocess.run(
        jagajalan("registry", "list", "gateways", "--registry-db", str(folder / REGISTRY_FILE)),
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert listed.returncode == 0, listed.stderr
    assert all(gw in listed.stdout for gw in SITES), listed.stdout
    sites = subprocess.run(
        jagajalan("registry", "list", "sites", "--registry-db", str(folder / REGISTRY_FILE)),
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert sites.returncode == 0, sites.stderr
    assert "pasar-sarolangun" in sites.stdout and "pauh" in sites.stdout, sites.stdout


def test_the_registry_is_prepared_once_and_a_restart_changes_nothing(tmp_path: Path) -> None:
    first = prepare_registry(tmp_path)
    assert first.path == tmp_path / REGISTRY_FILE and first.sites == 12 and first.added > 0
    again = prepare_registry(tmp_path)
    assert (again.sites, again.added) == (12, 0)


def test_a_broken_registry_example_stops_the_demo_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "registry.toml"
    bad.write_text("[[sites]]\nid = 7\n", encoding="utf-8")
    try:
        prepare_registry(tmp_path, bad)
    except RuntimeError as exc:
        text = str(exc.args[0])
    else:
        raise AssertionError("no error for a broken example")
    assert text.startswith(f"the demo's registry could not be prepared from {bad}")


def test_the_job_runs_on_the_scenario_s_clock() -> None:
    scenario = Scenario.load("first_rains")
    argv = analytics_argv(["--sqlite", "s.sqlite"], scenario, 1_800_000_000.25, Path("r.db"))
    assert argv[:4] == ["analytics", "run", "--sqlite", "s.sqlite"]
    options = dict(zip(argv[4::2], argv[5::2], strict=True))
    assert options["--registry-db"] == "r.db"  # the sites' capacities and ladders
    assert options["--clock"] == "scenario" and options["--scenario-speed"] == "240"
    assert options["--scenario-origin"] == "2027-01-15T08:00:00.250+00:00"
    assert options["--scenario-start"] == "2025-10-19T17:00:00.000+00:00"  # 00:00 WIB


def test_the_alerts_service_runs_on_the_demo_s_broker_registry_and_store() -> None:
    argv = alerts_argv(
        ["--sqlite", "s.sqlite"], "mqtt://127.0.0.1:1883", Path("r.db"), "http://h:1", True
    )
    assert argv[:2] == ["alerts", "run"]
    options = dict(zip(argv[2::2], argv[3::2], strict=True))
    assert options["--rules-file"].endswith("examples/alerts-demo.toml")
    assert options["--registry-db"] == "r.db" and options["--sqlite"] == "s.sqlite"
    assert options["--mqtt-protocol"] == "3.1.1"  # amqtt has no MQTT 5
    assert options["--mqtt-alerts"] == "on" and options["--base-url"] == "http://h:1"
    real = alerts_argv([], "mqtt://broker:1883", Path("r.db"), "http://h:1", False)
    assert "--mqtt-protocol" not in real


def processes_of(folder: Path) -> set[int]:
    """The pids of processes whose command line names *folder* (the demo's children)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:  # ended meanwhile
                continue
            if str(folder).encode() in cmdline:
                found.add(int(entry.name))
    return found


def test_a_demo_killed_outright_leaves_no_children_behind(tmp_path: Path) -> None:
    """SIGKILL gives the demo no chance to stop its children; the kernel tells them (Linux
    parent-death signal), so none stays on the demo's ports."""
    folder = tmp_path / "demo"
    out = (tmp_path / "demo.out").open("wb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAGAJALAN_")}
    argv = jagajalan("demo", "--dir", str(folder), "--api-port", str(free_port()))
    proc = children.start(argv, stdout=out, stderr=out, stdin=subprocess.DEVNULL, env=env)
    try:
        wait_for(lambda: (folder / "demo.json").exists() or proc.poll() is not None, 60, "demo")
        assert proc.poll() is None, (tmp_path / "demo.out").read_text()
        kids = processes_of(folder) - {proc.pid}
        assert len(kids) >= 5, kids  # ingest, analytics, alerts, devices, gateways, API
    finally:
        proc.kill()
        proc.wait()
    wait_for(lambda: not (processes_of(folder) & kids), 60, f"the demo's children {kids} to end")
