"""``gateway doctor`` speaks one language at a time, and never passes what it skipped.

Real failing setups (emulated devices on pseudo-terminals, a real Mosquitto with the example
ACL), the real command in a subprocess, and its whole output judged by the language judge
(testkit/language.py): in Bahasa Indonesia no English word, in English no Indonesian one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import serial

from gateway.runtime.spool import Spool
from testkit.doctor_site import Site, doctor
from testkit.language import judge

LANGS = ("id", "en")


def broken_site(site: Site, url: str) -> Path:
    """A cabinet with everything wrong at once: a port that is gone, a sensor at another baud
    rate, a counter that sends nothing, a GPS 30 s ahead of the gateway, a wrong password."""
    site.devices.append(
        {
            "id": "env9",
            "driver": "modbus",
            "serial": {"port": str(site.root / "ttyUSB-gone"), "timeout": 0.5},
            "profile": "pm-th-generic",
        }
    )
    site.modbus("env2", device_baud=19200, config_baud=9600)
    site.counter("cnt1", running=False)
    site.gps("gps1", clock_drift=30.0)
    return site.config(url, password="salah-Sekali-987")


@pytest.mark.services
@pytest.mark.parametrize("lang", LANGS)
def test_a_broken_site_in_one_language(lang: str, site: Site, acl_broker) -> None:
    done = doctor(broken_site(site, acl_broker.url), "--lang", lang, wait="4")
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert not judge(out, lang), out
    if lang == "id":
        assert "tidak ada jawaban dari unit 1" in out  # the Modbus timeout, translated
        assert "no answer" not in out
    else:
        assert "no answer from unit 1" in out
    assert "env2" in out and "cnt1" in out and "gps1" in out


@pytest.mark.parametrize("columns", [400, 80, 60])
@pytest.mark.parametrize("lang", LANGS)
def test_config_mistakes_in_one_language(lang: str, columns: int, tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(
        '[gateway]\nid = "srl-dr-01"\ncolor = "red"\n\n[mqtt]\nurl = "tcp://broker:1883"\n\n'
        '[[devices]]\nid = "env1"\ndriver = "modbus"\nprofile = "pm-th-generik"\n'
        'serial = { port = "/dev/ttyUSB0", baudrate = 9601 }\n'
        '\n[[devices]]\nid = "cnt1"\ndriver = "trafic_counter"\n'
    )
    done = doctor(path, "--lang", lang, columns=columns)
    assert done.returncode == 1
    assert not judge(done.stdout, lang), done.stdout
    # never a path cut or folded, whatever the terminal's width
    assert f"`jagajalan gateway check-config --config {path}`" in done.stdout
    # a misspelt profile, driver and key each get the closest known name
    assert "`pm-th-generic`?" in done.stdout
    assert "`traffic_counter`?" in done.stdout
    assert (
        "`colour`?" in done.stdout or "`contact`?" in done.stdout or "gateway.color" in done.stdout
    )


@pytest.mark.services
@pytest.mark.parametrize("lang", LANGS)
def test_a_held_port_and_spool_are_not_called_passed(
    lang: str,
    site: Site,
    acl_broker,
) -> None:
    """The gateway service holds the spool and its serial ports (an exclusive lock, as
    pyserial's ``exclusive=True`` takes it). The doctor checks what it can, says what it did
    not check and how to check it, never ends with "all passed", and exits 3."""
    site.modbus()
    site.counter()
    config = site.config(acl_broker.url)
    held = site.devices[0]["serial"]["port"]
    with serial.Serial(held, exclusive=True):
        done = doctor(config, "--lang", lang, wait="3")
        report = doctor(config, "--lang", lang, "--json", wait="3")
    out = done.stdout
    assert done.returncode == 3, out + done.stderr
    assert not judge(out, lang), out
    if lang == "id":
        assert "Semua pemeriksaan penting lulus" not in out
        assert "Pemeriksaan belum lengkap" in out
        assert (
            "Tidak diperiksa (layanan gateway atau program lain sedang memakainya): perangkat env1."
            in out
        )
    else:
        assert "All essential checks passed" not in out
        assert "The check is incomplete" in out
        assert "device env1" in out
    assert f"fuser -v {held}" in out
    assert "sudo systemctl stop jagajalan-gateway" in out
    assert "journalctl -u jagajalan-gateway" in out
    data = json.loads(report.stdout)
    assert report.returncode == 3 and data["exit"] == 3 and data["unchecked"] == ["device:env1"]
    # the counter on the free port was really read
    counter = next(c for c in data["checks"] if c["details"].get("device") == "cnt1")
    assert counter["status"] == "pass"
    # released: the same site passes all, exit 0
    done = doctor(config, "--lang", lang, wait="3")
    assert done.returncode == 0, done.stdout


@pytest.mark.services
def test_a_running_gateway_holding_the_spool_gives_exit_3(site: Site, acl_broker) -> None:
    site.modbus()
    config = site.config(acl_broker.url)
    with Spool(site.spool):
        done = doctor(config, "--lang", "en", wait="3")
    assert done.returncode == 3, done.stdout
    unchecked = "device env1, the spool's content."
    assert f"Not checked (the gateway service or another program is using it): {unchecked}" in (
        done.stdout
    )
    assert not judge(done.stdout, "en")
