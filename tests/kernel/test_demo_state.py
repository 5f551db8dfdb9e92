"""kernel.demo_state: how commands find the running demo's broker, and never send silently
somewhere else."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kernel.demo_state import (
    DemoState,
    NoDemo,
    read_state,
    remove_state,
    resolve_broker_url,
    write_state,
)
from testkit import children

DEMO_BROKER = "mqtt://127.0.0.1:40123"


def dead_pid() -> int:
    proc = children.start([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def running_demo(directory: Path, pid: int | None = None) -> DemoState:
    directory.mkdir(parents=True, exist_ok=True)
    state = DemoState(
        pid=os.getpid() if pid is None else pid,
        broker_url=DEMO_BROKER,
        api_url="http://127.0.0.1:8000",
        dir=str(directory),
        scenario="first_rains",
        gateways=["srl-pasar-01"],
    )
    write_state(directory, state)
    return state


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAGAJALAN_BROKER_URL", raising=False)
    monkeypatch.delenv("JAGAJALAN_DEMO_DIR", raising=False)


def test_demo_means_the_running_demos_broker(tmp_path: Path) -> None:
    running_demo(tmp_path)
    url, notice = resolve_broker_url("demo", tmp_path)
    assert url == DEMO_BROKER
    assert notice == f"using the demo's broker at {DEMO_BROKER}"
    # Nothing given: the running demo's broker, announced.
    url, notice = resolve_broker_url(None, tmp_path)
    assert url == DEMO_BROKER and DEMO_BROKER in (notice or "")


def test_demo_without_a_running_demo_is_an_error_not_a_guess(tmp_path: Path) -> None:
    with pytest.raises(NoDemo, match="no demo is running"):
        resolve_broker_url("demo", tmp_path)
    running_demo(tmp_path, pid=dead_pid())  # killed: its file stayed behind
    assert read_state(tmp_path) is None
    with pytest.raises(NoDemo, match="make demo"):
        resolve_broker_url("demo", tmp_path)
    assert resolve_broker_url(None, tmp_path) == ("mqtt://127.0.0.1:1883", None)


def test_another_broker_while_the_demo_runs_is_said_aloud(tmp_path: Path) -> None:
    running_demo(tmp_path)
    url, notice = resolve_broker_url("mqtt://127.0.0.1:1883", tmp_path)
    assert url == "mqtt://127.0.0.1:1883"
    assert notice and "will not appear in the demo's API" in notice and DEMO_BROKER in notice
    # The same broker spelt differently is no reason to warn.
    assert resolve_broker_url("mqtt://localhost:40123/", tmp_path) == (
        "mqtt://localhost:40123/",
        None,
    )


def test_the_environment_still_wins_over_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JAGAJALAN_BROKER_URL", "mqtt://broker:1883")
    assert resolve_broker_url(None, tmp_path) == ("mqtt://broker:1883", None)


def test_remove_state_only_removes_its_own_file(tmp_path: Path) -> None:
    running_demo(tmp_path)
    remove_state(tmp_path, os.getpid() + 1)
    assert read_state(tmp_path) is not None
    remove_state(tmp_path, os.getpid())
    assert read_state(tmp_path) is None and not (tmp_path / "demo.json").exists()


def test_simulate_commands_refuse_demo_without_a_demo(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAGAJALAN_")}
    for argv in (
        ["simulate", "fleet", "--gateways", "1", "--duration", "1", "--broker-url", "demo"],
        ["simulate", "devices", "--dir", "var/sim", "--broker-url", "demo"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "jagajalan.cli", *argv, "--lang", "en"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert "no demo is running" in done.stderr
        assert not (tmp_path / "var" / "sim").exists()  # nothing was started
