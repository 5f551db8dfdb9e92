"""README.md's "Try it without hardware" walkthrough, as written, on a machine where port 1883
is already taken by another broker: every command reaches the demo.

The commands are extracted from the README (``.venv/bin/jagajalan ...`` lines of its ``sh``
blocks, continuation lines joined) and run in a fresh folder against `jagajalan demo`, which is
what `make demo` runs. The newcomer's gateway (step 3: `simulate devices` + `gateway run`)
must appear in the demo's GET /gateways, the fleet (step 4) likewise, and `demo switch` (step 2)
must change the demo's scenario.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jagajalan.embedded_broker import port_free
from kernel.text import tr
from testkit import REPO, children
from testkit.demo_api import DemoApi
from testkit.language import judge
from testkit.services import Mosquitto, write_mosquitto_conf

JAGAJALAN = str(Path(sys.executable).parent / "jagajalan")
NEWCOMER = "srl-limun-01"


def walkthrough_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Try it without hardware") :]
    section = section[: section.index("\n## ", 4)]
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = " ".join(line.split())
            if line.startswith(".venv/bin/jagajalan "):
                commands.append(line)
    return commands


def find(commands: list[str], words: str) -> list[str]:
    matches = [c for c in commands if words in c]
    assert len(matches) == 1, f"README walkthrough: expected one `{words}` command, {commands}"
    return [JAGAJALAN, *shlex.split(matches[0])[1:]]


@pytest.fixture
def port_1883_taken(tmp_path: Path) -> Iterator[None]:
    """A broker on 1883, as on many machines (a system Mosquitto); ours if none runs yet."""
    if not port_free(1883):
        yield
        return
    work = tmp_path / "system-mosquitto"
    broker = Mosquitto(1883, work, write_mosquitto_conf(work, 1883, persistence=False))
    broker.start()
    try:
        yield
    finally:
        broker.stop()


def wait(
    check: Callable[[], object],
    timeout: float,
    what: str,
    logs: list[Path],
    client: DemoApi | None = None,
) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    tails = "\n".join(
        f"--- {p}\n{p.read_text(errors='replace')[-3000:]}" for p in logs if p.exists()
    )
    refused = "\n".join(client.answers[-10:]) if client else ""
    raise AssertionError(f"{what} within {timeout:g} s\nAPI answers:\n{refused}\n{tails}")


def test_readme_walkthrough_reaches_the_demo_with_1883_taken(
    tmp_path: Path, port_1883_taken: None
) -> None:
    commands = walkthrough_commands()
    make = (REPO / "Makefile").read_text()
    assert "\tmake_demo" not in make and "$(BIN)/jagajalan demo\n" in make  # what make demo runs
    here = tmp_path / "checkout"
    here.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "JAGAJALAN_BROKER_URL",
            "JAGAJALAN_INFLUX_URL",
            "JAGAJALAN_DEMO_DIR",
            "JAGAJALAN_LANG",
        )
    }
    procs: list[subprocess.Popen] = []
    logs: list[Path] = []

    def start(name: str, argv: list[str]) -> subprocess.Popen:
        log = tmp_path / f"{name}.log"
        logs.append(log)
        out = log.open("wb")
        proc = children.start(
            argv, cwd=here, env=env, stdout=out, stderr=out, stdin=subprocess.DEVNULL
        )
        procs.append(proc)
        return proc

    def run(argv: list[str], timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run(
            argv, cwd=here, env=env, capture_output=True, text=True, timeout=timeout
        )

    listed = run(find(commands, "simulate scenario --list"), 60)
    assert listed.returncode == 0 and "first_rains" in listed.stdout, listed.stderr
    state_file = here / "var" / "demo" / "demo.json"
    demo = start("demo", [JAGAJALAN, "demo"])
    try:
        wait(state_file.exists, 90, "the demo did not write var/demo/demo.json", logs)
        state = json.loads(state_file.read_text())
        api = state["api_url"]
        assert state["pid"] == demo.pid
        assert not state["broker_url"].endswith(":1883"), state  # 1883 is someone else's
        assert state["scenario"] == "first_rains"
        client = DemoApi(api, here / "var" / "demo" / "logs" / "api.log")
        logs.append(client.log)  # shown when a wait fails

        # Step 3: emulated devices, a gateway checked and run as at the roadside.
        devices = start("devices", find(commands, "simulate devices"))
        config = here / "var" / "sim" / f"{NEWCOMER}.toml"
        wait(config.exists, 60, f"simulate devices did not write {config}", logs)
        assert f"memakai broker demo di {state['broker_url']}" in logs[-1].read_text()
        assert f'url = "{state["broker_url"]}"' in config.read_text()
        checked = run(find(commands, "gateway check-config"), 60)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        gateway = start("gateway", find(commands, "gateway run"))

        def newcomer_seen() -> bool:
            gws, latest = client.listing("/gateways"), client.listing("/readings/latest")
            return any(g["gateway"] == NEWCOMER for g in gws) and any(
                r["gateway"] == NEWCOMER for r in latest
            )

        wait(newcomer_seen, 90, f"{NEWCOMER} did not appear in {api}/gateways", logs, client)

        # The demo's own story is labelled (GET /conditions).
        def labelled() -> list:
            sites = client.listing("/conditions")
            return [s for s in sites if s["gateway"] == "srl-pasar-01" and s["water"] and s["air"]]

        site = wait(labelled, 60, "no labelled conditions for srl-pasar-01", logs, client)[0]
        assert site["water"]["status"] in ("normal", "waspada", "siaga", "awas")
        assert site["air"]["category_label"]

        # Step 3, end: stop the devices; the gateway marks them unplugged and keeps running.
        devices.send_signal(signal.SIGINT)  # Ctrl-C in the devices' terminal
        assert devices.wait(30) == 0

        def unplugged() -> bool:
            gws = client.listing("/gateways")
            mine = [g for g in gws if g["gateway"] == NEWCOMER]
            states = {d["state"] for d in mine[0]["devices"]} if mine else set()
            return bool(mine) and mine[0]["state"] == "online" and states == {"unplugged"}

        wait(unplugged, 60, f"{NEWCOMER}'s devices were not shown unplugged", logs, client)
        assert gateway.poll() is None

        # Step 4: the fleet, as written (50 gateways for 30 s).
        fleet = run(find(commands, "simulate fleet"), 180)
        assert fleet.returncode == 0, fleet.stdout + fleet.stderr
        assert f"memakai broker demo di {state['broker_url']}" in fleet.stderr
        summary = json.loads((here / "fleet.json").read_text())
        assert summary["broker"] in state["broker_url"] or state["broker_url"].endswith(
            summary["broker"].rsplit("/", 1)[-1]
        ), summary["broker"]

        def fleet_seen() -> bool:
            gws = client.listing("/gateways")
            return sum(g["gateway"].startswith("fleet-") for g in gws) == 50

        wait(fleet_seen, 60, "the fleet's 50 gateways did not appear in /gateways", logs, client)

        # Step 2: switch the scenario while the demo runs.
        switched = run(find(commands, "demo switch"), 120)
        assert switched.returncode == 0, switched.stdout + switched.stderr
        state = json.loads(state_file.read_text())
        assert state["scenario"] == "rainy_season_flood"
        assert "srl-tembesi-01" in state["gateways"]

        gateway.send_signal(signal.SIGTERM)
        devices.send_signal(signal.SIGINT)
        demo.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert demo.wait(90) == 0, logs[0].read_text()
        assert not state_file.exists()
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    status = logs[0].read_text()  # the demo's own output, in the README's default language
    assert f"{tr('demo.count.gateways', 'id')}: " in status
    # 50 new gateways at once are named five and counted (more when another joins with them)
    listed = "fleet-0001, fleet-0002" in status
    assert not listed or re.search(r"fleet-0005 dan \d+ lagi", status), status
    assert tr("demo.switching", "id", name="rainy_season_flood") in status
    assert not judge(status, "id"), status
    assert not judge(switched.stderr, "id"), switched.stderr
