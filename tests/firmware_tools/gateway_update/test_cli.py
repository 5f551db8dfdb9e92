"""`jagajalan firmware gateway-update` as the technician runs it: what it prints, its exit
codes, a USB stick's folder, --status and --recover. The verifier and systemd are the test
ones of kit.py (run_cli.py); the command's own code runs in full."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_tools.gateway_update.layout import Layout
from firmware_tools.gateway_update.updater import UpdateError
from kernel.update_result import UPDATE_RESULT_NAME, read_update_result

from .kit import kill_pid_file, write_payload
from .run_cli import main


@pytest.fixture
def site(tmp_path: Path):
    root = tmp_path / "opt"
    root.mkdir()
    health = tmp_path / "health.json"
    yield root, health, tmp_path
    kill_pid_file(health.with_name("gateway.pid"))


def cli(root: Path, health: Path, *args: str) -> int:
    return main(["--root", str(root), "--health-file", str(health), "--timeout", "5", *args])


def test_an_update_and_a_failing_one_as_the_technician_sees_them(site, capsys) -> None:
    root, health, tmp = site
    assert cli(root, health, "--from", str(write_payload(tmp, "1.0.0"))) == 0
    out = capsys.readouterr().out
    assert "BERHASIL: gateway kini menjalankan 1.0.0 (berjalan dan terkirim ke broker)" in out
    assert "memasang rilis 1.0.0" in out
    bad = write_payload(tmp, "1.1.0", "silent")
    assert cli(root, health, "--timeout", "1", "--from", str(bad), "--lang", "en") == 1
    err = capsys.readouterr().err
    assert "FAILED: version 1.1.0 did not pass its health check" in err
    assert "the gateway went back to 1.0.0" in err
    # What the gateway reports (beside its health file, i.e. its spool): the rollback, why.
    got = read_update_result(health.with_name(UPDATE_RESULT_NAME))
    assert got is not None and (got["version"], got["result"], got["rollout"]) == (
        "1.1.0",
        "rolled_back",
        "",
    )
    assert got["reason"].startswith("health.")
    assert cli(root, health, "--status") == 0
    status = capsys.readouterr().out
    assert "berjalan: 1.0.0" in status and "1.1.0 — rolled_back" in status


def test_from_a_usb_stick_without_network(site, capsys) -> None:
    """The stick's folder holds one bundle; with --offline a gateway that runs but cannot reach
    a broker (the "silent" release) is accepted."""
    root, health, tmp = site
    stick = tmp / "media" / "usb"
    stick.mkdir(parents=True)
    write_payload(stick, "1.0.0", "silent", suffix=".jjfw")
    assert cli(root, health, "--offline", "--from", str(stick)) == 0
    assert "berjalan; tanpa jaringan" in capsys.readouterr().out
    assert Layout(root).current_version() == "1.0.0"
    write_payload(stick, "1.1.0", suffix=".jjfw")
    assert cli(root, health, "--offline", "--from", str(stick)) == 2
    err = capsys.readouterr().err
    assert "tidak ada satu bundel" in err and "jagajalan-gateway-1.1.0.jjfw" in err
    empty = tmp / "empty"
    empty.mkdir()
    assert cli(root, health, "--from", str(empty), "--lang", "en") == 2
    assert "no single bundle" in capsys.readouterr().err


def test_a_refused_bundle_writes_nothing(site, capsys, monkeypatch) -> None:
    root, health, tmp = site
    import tests.firmware_tools.gateway_update.run_cli as run_cli

    def refusing(_path: Path):
        raise UpdateError("update.refused", "[signature] tampered")

    monkeypatch.setattr(run_cli, "tar_verifier", refusing)
    assert cli(root, health, "--from", str(write_payload(tmp, "1.0.0"))) == 1
    assert "bundel ditolak: [signature] tampered" in capsys.readouterr().err
    got = read_update_result(health.with_name(UPDATE_RESULT_NAME))
    assert got is not None and (got["result"], got["reason"], got["detail"]) == (
        "refused",
        "update.refused",
        "[signature] tampered",
    )
    assert [p.name for p in root.iterdir()] == ["update.lock"]


def test_recover_after_a_cut_reports_and_ends_on_the_old_release(site, capsys) -> None:
    root, health, tmp = site
    assert cli(root, health, "--from", str(write_payload(tmp, "1.0.0"))) == 0
    layout = Layout(root)
    # a cut in the trial of a second release: 2.0.0 installed and current, 1.0.0 the old one
    assert cli(root, health, "--from", str(write_payload(tmp, "2.0.0"))) == 0
    journal = layout.read_journal()
    journal.phase = "trial"
    layout.write_journal(journal)
    capsys.readouterr()
    assert cli(root, health, "--recover", "--boot") == 0
    out = capsys.readouterr().out
    assert "diselesaikan: rolled_back; gateway menjalankan 1.0.0" in out
    assert layout.current_version() == "1.0.0"
