"""`gateway-update --command FILE`: a desired-version command, signed with the firmware key
(the real minisign code, checked by both signature checkers), names a bundle on a loopback HTTP
server; the updater downloads it, checks its SHA-256 against the command and installs it
verified. A command already applied (its version runs, or was rolled back here) changes
nothing; a command for another gateway, expired, signed by another key, or naming a bundle
with another SHA-256 is refused and nothing is installed.

Faked: systemd (kit.Supervisor) and the release's content (kit's small stand-in gateway)."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_tools.bundle import SecretKey
from firmware_tools.gateway_update.layout import Layout
from kernel.update_result import read_update_result

from .commands_kit import TARGET, bundle, command, serving, write_keys
from .kit import kill_pid_file, runs
from .run_cli import main

GW = "gw-cmd-1"


@pytest.fixture
def setup(tmp_path: Path):
    key = SecretKey.generate()
    root, health = tmp_path / "opt", tmp_path / "health.json"
    args = [
        "--root",
        str(root),
        "--health-file",
        str(health),
        "--timeout",
        "10",
        "--keys",
        str(write_keys(tmp_path, key)),
        "--target",
        TARGET,
        "--lang",
        "en",
        "--gateway",
        GW,
    ]
    site = tmp_path / "site"
    site.mkdir()
    yield key, root, args, site
    kill_pid_file(health.with_name("gateway.pid"))


def run(tmp_path: Path, payload: bytes, args: list[str]) -> int:
    file = tmp_path / "command.json"
    file.write_bytes(payload)
    return main([*args, "--command", str(file)], signed=True)


def test_a_command_downloads_and_installs_once(setup, tmp_path: Path, capsys) -> None:
    key, root, args, site = setup
    first = bundle(site, key, "1.0.0", counter=1)
    second = bundle(site, key, "1.1.0", counter=2)
    with serving(site) as url:
        assert run(tmp_path, command(key, GW, "1.0.0", f"{url}/{first.name}", first), args) == 0
        assert runs(root) == "1.0.0"
        done = outcome(tmp_path)
        assert (done["version"], done["result"], done["rollout"]) == (
            "1.0.0",
            "committed",
            "r-test",
        )
        payload = command(key, GW, "1.1.0", f"{url}/{second.name}", second)
        assert run(tmp_path, payload, args) == 0
        assert runs(root) == "1.1.0"
        assert (root / "downloads" / second.name).read_bytes() == second.read_bytes()
        capsys.readouterr()
        assert run(tmp_path, payload, args) == 0  # the retained command once more
    assert "already runs" in capsys.readouterr().out
    assert Layout(root).versions() == ["1.0.0", "1.1.0"]
    assert outcome(tmp_path)["version"] == "1.1.0"  # nothing to do: the last outcome stays


def outcome(tmp_path: Path) -> dict:
    """The outcome file the updater wrote beside the command (what the gateway reports)."""
    found = read_update_result(tmp_path / "update-result.json")
    assert found is not None, "no update-result.json beside command.json"
    return found


def test_a_failed_download_is_reported(setup, tmp_path: Path) -> None:
    key, root, args, site = setup
    made = bundle(site, key, "1.0.0", counter=1)
    with serving(tmp_path / "empty") as url:  # the download site lost the bundle: HTTP 404
        (tmp_path / "empty").mkdir()
        assert run(tmp_path, command(key, GW, "1.0.0", f"{url}/{made.name}", made), args) == 1
    got = outcome(tmp_path)
    assert (got["version"], got["result"], got["reason"]) == (
        "1.0.0",
        "aborted",
        "update.download_failed",
    )
    assert "HTTP 404" in got["detail"] and got["rollout"] == "r-test"
    assert Layout(root).versions() == []


def test_a_version_rolled_back_here_is_not_tried_again(setup, tmp_path: Path, capsys) -> None:
    key, root, args, site = setup
    good = bundle(site, key, "1.0.0", counter=1)
    bad = bundle(site, key, "1.1.0", counter=2, behaviour="silent")
    assert run(tmp_path, command(key, GW, "1.0.0", str(good), good), args) == 0
    args = [*args[:5], "2", *args[6:]]  # --timeout 2: the silent release never publishes
    payload = command(key, GW, "1.1.0", str(bad), bad)
    assert run(tmp_path, payload, args) == 1
    assert Layout(root).read_journal().phase == "rolled_back"
    failed = outcome(tmp_path)
    assert (failed["version"], failed["result"]) == ("1.1.0", "rolled_back")
    assert failed["reason"].startswith("health.") and failed["detail"]
    capsys.readouterr()
    assert run(tmp_path, payload, args) == 0
    assert "already failed and was rolled back" in capsys.readouterr().out
    assert Layout(root).read_journal().history.count("trial") == 1
    assert runs(root) == "1.0.0"


def test_bad_commands_are_refused_and_install_nothing(setup, tmp_path: Path, capsys) -> None:
    key, root, args, site = setup
    made = bundle(site, key, "1.0.0", counter=1)
    other_key = SecretKey.generate()
    (site / "other.jjfw").write_bytes(b"another file")
    tampered = bytearray(command(key, GW, "1.0.0", str(made), made))
    tampered[tampered.index(b"1.0.0")] = ord("2")  # version 2.0.0, signature of 1.0.0
    cases = {
        "gateway": command(key, "gw-other", "1.0.0", str(made), made),
        "expired": command(key, GW, "1.0.0", str(made), made, ttl_ms=-1),
        "signature": command(other_key, GW, "1.0.0", str(made), made),
        "tampered": bytes(tampered),
        "sha256": command(key, GW, "1.0.0", str(made), site / "other.jjfw"),
        "format": b"{not json",
    }
    capsys.readouterr()
    for name, payload in cases.items():
        assert run(tmp_path, payload, args) == 1, name
        err = capsys.readouterr().err
        want = {"sha256": "SHA-256", "tampered": "signature"}.get(name, name)
        assert want in err, (name, err)
        got = outcome(tmp_path)
        assert got["result"] == "refused", (name, got)
        key_ = "update.command_sha256" if name == "sha256" else "update.command_refused"
        assert got["reason"] == key_, (name, got)
        check = {"sha256": "", "tampered": "signature"}.get(name, name)
        assert check in got["detail"], (name, got)
        assert got["version"] == ("" if name == "format" else "1.0.0"), name
        (tmp_path / "update-result.json").unlink()
    assert Layout(root).versions() == []
