"""`jagajalan demo` and `jagajalan demo switch` speak one language at a time: Bahasa Indonesia
by default, English with ``--lang en``. The real demo runs for a short ``--duration``, is
switched to another scenario while it runs, and its whole output (banner, status lines, site
lines, the switch, the stop) and the switch command's output are judged by the language judge
(testkit/language.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jagajalan.demo_cli import problem_of
from kernel.text import Said, Text, tr
from testkit import children
from testkit.language import judge
from testkit.services import free_port

DURATION = 30  # seconds the demo runs: a status line every 5 s, a switch in between


def jagajalan(*argv: str) -> list[str]:
    return [sys.executable, "-m", "jagajalan.cli", *argv]


@pytest.mark.parametrize("lang", ["id", "en"])
def test_demo_and_its_switch_speak_one_language(lang: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "JAGAJALAN_LANG"}
    chosen = [] if lang == "id" else ["--lang", "en"]  # id: the default, without an option
    folder = tmp_path / "demo"
    out_path = tmp_path / "demo.out"
    out = out_path.open("wb")
    argv = ["demo", "--dir", str(folder), "--api-port", str(free_port())]
    proc = children.start(
        jagajalan(*argv, "--duration", str(DURATION), *chosen),
        stdout=out,
        stderr=out,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while not (folder / "demo.json").exists():
            assert proc.poll() is None, out_path.read_text()
            assert time.monotonic() < deadline, out_path.read_text()
            time.sleep(0.1)
        switched = subprocess.run(
            jagajalan("demo", "switch", "haze_episode", "--dir", str(folder), *chosen),
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert proc.wait(DURATION + 60) == 0, out_path.read_text()
    finally:
        if proc.poll() is None:
            children.stop(proc)
    assert switched.returncode == 0, switched.stderr
    done = tr("demo.switch.done", lang, name="haze_episode", gateways="", url="")
    assert done.split(" haze_episode")[0] + " haze_episode" in switched.stderr
    assert not judge(switched.stderr, lang), switched.stderr
    shown = out_path.read_text()
    assert not judge(shown, lang), shown
    for expected in (
        tr("demo.banner.title", lang),
        tr("demo.banner.try", lang),
        tr("demo.switching", lang, name="haze_episode"),
        tr("demo.now_playing", lang, name="haze_episode", at="").rstrip(),
        f"{tr('demo.count.gateways', lang)}: ",
        tr("demo.stopping", lang),
    ):
        assert expected in shown, (expected, shown)
    assert "simulate devices --dir var/sim --gateways srl-limun-01 --broker-url mqtt://" in shown
    # the other language's sentences are absent
    other = "en" if lang == "id" else "id"
    assert tr("demo.banner.title", other) not in shown
    assert tr("demo.stopping", other) not in shown


def test_demo_switch_errors_in_english_with_lang_en(tmp_path: Path) -> None:
    done = subprocess.run(
        jagajalan("demo", "switch", "haze_episode", "--dir", str(tmp_path), "--lang", "en"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "no demo is running with `--dir" in done.stderr
    assert not judge(done.stderr, "en"), done.stderr


@pytest.mark.parametrize("lang", ["id", "en"])
def test_the_demo_s_own_failures_in_one_language(lang: str) -> None:
    """What `demo failed: ...` shows: the demo's failures carry catalogue text (English in
    ``str()`` for logs), another error is quoted as a technical detail."""
    failures = [
        RuntimeError(Said("demo.not_up", what=Text("demo.what.ingest"), seconds="30", logs="/l")),
        RuntimeError(Said("demo.not_up", what=Text("demo.what.devices"), seconds="30", logs="/l")),
        RuntimeError(Said("demo.child_exited", name="gateway-srl-pasar-01", code=1), "log tail"),
        RuntimeError(Said("demo.setup_failed", log="/l/setup.log")),
        RuntimeError(Said("demo.no_site", name="elsewhere")),
    ]
    for exc in failures:
        shown = tr("demo.failed", lang, problem=problem_of(exc))
        assert not judge(shown, lang), shown
        assert str(exc.args[0]) == problem_of(exc).render("en")
    assert "did not come up within 30 s" in str(failures[0].args[0])
    other = tr("demo.failed", lang, problem=problem_of(RuntimeError("port busy")))
    assert "`port busy`" in other and not judge(other, lang)
