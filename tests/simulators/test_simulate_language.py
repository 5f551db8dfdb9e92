"""``simulate devices|scenario|fleet`` speak one language at a time, and their tables never
cut a path or a header on a narrow terminal (COLUMNS=80 and 60): the pseudo-terminal paths
the README tells people to use appear whole in the output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kernel.text import tr
from simulators.scenario.config import shipped
from simulators.scenario.engine import Scenario
from telemetry import topics
from testkit import REPO, children
from testkit.gateway import Subscriber
from testkit.language import judge
from testkit.services import mosquitto

LANGS = ("id", "en")


def env(columns: int) -> dict[str, str]:
    return {**os.environ, "COLUMNS": str(columns), "JAGAJALAN_LANG": ""}


def simulate(*args: str, columns: int = 80, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jagajalan.cli", "simulate", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=env(columns),
    )


@pytest.mark.parametrize("columns", [80, 60])
@pytest.mark.parametrize("lang", LANGS)
def test_devices_show_whole_paths_in_one_language(lang: str, columns: int, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    sim = tmp_path / "a-rather-long-folder-name-as-people-choose" / "var" / "sim"
    argv = ["simulate", "devices", "--dir", str(sim), "--gateways", "srl-tembesi-01,srl-pasar-01"]
    proc = children.start(
        [sys.executable, "-m", "jagajalan.cli", *argv, "--ready-file", str(ready), "--lang", lang],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
        env=env(columns),
    )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "devices did not start"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    paths = [
        sim / f"{gw}-{dev}" for gw in ("srl-tembesi-01", "srl-pasar-01") for dev in ("env1", "cnt1")
    ]
    for path in [*paths, sim / "srl-tembesi-01.toml", sim / "srl-pasar-01.toml"]:
        assert str(path) in out, (path, out)
    for col in ("gateway", "site", "device", "path", "config"):
        assert tr(f"simulate.devices.col.{col}", lang) in out
    assert not judge(out, lang), out


@pytest.mark.parametrize("lang", LANGS)
def test_a_misspelt_gateway_gets_the_closest_name(lang: str) -> None:
    done = simulate("devices", "--gateways", "srl-tembesi-1", "--lang", lang)
    assert done.returncode == 2
    assert "`srl-tembesi-01`?" in done.stderr
    assert not judge(done.stderr, lang), done.stderr


@pytest.mark.parametrize("columns", [80, 60])
@pytest.mark.parametrize("lang", LANGS)
def test_the_scenario_list_in_one_language(lang: str, columns: int) -> None:
    done = simulate("scenario", "--list", "--lang", lang, columns=columns)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert not judge(out, lang), out
    for col in ("name", "duration", "speed", "description"):
        assert tr(f"simulate.list.{col}", lang) in out
    for name in shipped():
        assert name in out


def test_every_shipped_scenario_is_described_in_both_languages() -> None:
    for name in shipped():
        scenario = Scenario.load(name)
        for lang in LANGS:
            text = scenario.descriptions[lang]
            assert text.strip(), (name, lang)
            assert not judge(text, lang), (name, lang, text)


@pytest.mark.parametrize("lang", LANGS)
def test_a_scenario_run_in_one_language(lang: str) -> None:
    done = simulate("scenario", "rainy_season_flood", "--fast", "--lang", lang, columns=60)
    assert done.returncode == 0, done.stderr
    assert not judge(done.stdout, lang), done.stdout
    for col in ("site", "signal", "level", "way", "expected", "happened", "delta", "result"):
        assert tr(f"simulate.col.{col}", lang) in done.stdout


@pytest.mark.services
@pytest.mark.parametrize("columns", [80, 60])
@pytest.mark.parametrize("lang", LANGS)
def test_fleet_headers_whole_in_one_language(lang: str, columns: int, tmp_path: Path) -> None:
    with mosquitto(tmp_path / "mq") as broker, Subscriber(broker.port, [topics.ALL_READINGS]):
        done = simulate(
            "fleet",
            "--gateways",
            "2",
            "--rate",
            "2",
            "--duration",
            "1",
            "--broker-url",
            broker.url,
            "--lang",
            lang,
            columns=columns,
        )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    cols = ("published", "acked", "refused", "unacked", "readings_acked", "batches_per_s")
    for col in (*cols, "target_per_s", "max_lag_s", "acked_seqs", "gateway", "site"):
        assert tr(f"fleet.col.{col}", lang) in out, (col, out)
    assert "…" not in out
    assert not judge(out, lang), out
    assert not judge(done.stderr, lang), done.stderr


@pytest.mark.parametrize("lang", LANGS)
def test_a_misspelt_scenario_gets_the_closest_name(lang: str) -> None:
    done = simulate("scenario", "rainy_flood", "--fast", "--lang", lang)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "`rainy_season_flood`?" in done.stderr
    assert not judge(done.stderr, lang), done.stderr
