"""`jagajalan demo` prepares the example registry in its folder and runs the indicators job
on its scenario's clock (jagajalan/demo_parts.py): the real demo runs until the job has
written the hourly ISPU and the flood status of its sites into the demo's store, then stops
like Ctrl-C; `jagajalan registry list` on the demo's registry lists the demo's sites."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from jagajalan.demo_parts import REGISTRY_FILE, analytics_argv, prepare_registry
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
        store = SQLiteStore(folder / "jagajalan.sqlite")

        def indicators() -> bool:
            assert proc.poll() is None, out_path.read_text()
            ispu = {p.tags["gateway"] for p in store.points("jagajalan_ispu_hourly")}
            flood = {p.tags["gateway"] for p in store.points("jagajalan_flood_status")}
            return ispu == SITES and flood == SITES

        wait_for(indicators, 50, "the demo's hourly ISPU and flood status")
        elapsed = time.monotonic() - started
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
