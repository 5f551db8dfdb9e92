"""``jagajalan gateway doctor`` against real parts: emulated devices on pseudo-terminals
(a pymodbus RTU sensor, the traffic counter, the GPS module), a real Mosquitto with passwords
and the repository's example ACL (deploy/mosquitto/acl.example), a real spool. The doctor runs
as the real command in a subprocess, so exit codes and output are what a technician sees."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

from gateway.runtime.spool import Spool
from gateway.tools.doctor.checks import Result, check_clock, check_ntp, check_serial, check_spool
from gateway.tools.doctor.command import Task, run_tasks
from kernel.fields import client_id_allowed
from kernel.text import CATALOGUE, T
from telemetry import Reading
from testkit import REPO
from testkit.doctor_site import GW, INGEST, PASSWORD, Site, doctor
from testkit.gateway import Subscriber, make_config, make_tls_files
from testkit.services import Mosquitto, free_port, mosquitto


def rows(done: subprocess.CompletedProcess) -> dict[str, list[dict]]:
    report = json.loads(done.stdout)
    out: dict[str, list[dict]] = {}
    for check in report["checks"]:
        out.setdefault(check["check"], []).append(check)
    return out


def fill_spool(path: Path, n: int) -> None:
    with Spool(path) as spool:
        spool.append(
            [
                Reading(
                    sensor="cnt1",
                    measurement="traffic",
                    time=1_764_489_600_000 + i,
                    fields={"count": i},
                )
                for i in range(n)
            ]
        )


@pytest.mark.services
def test_all_checks_pass_in_indonesian(site: Site, acl_broker: Mosquitto) -> None:
    site.modbus()
    site.counter()
    config = site.config(acl_broker.url)
    fill_spool(site.spool, 3)
    status_topic = f"jagajalan/v1/{GW}/status"
    with Subscriber(acl_broker.port, [status_topic], **INGEST) as ingest:
        done = doctor(config)
        assert ingest.wait_for(lambda: bool(ingest.on(status_topic)), 10)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "Traceback" not in done.stderr
    assert "✘" not in out
    assert "Semua pemeriksaan penting lulus." in out
    assert "Unit 1 menjawab: pm25=" in out
    assert "heartbeat dalam" in out
    assert f"Login sebagai {GW} berhasil (MQTT 5)" in out
    # The example ACL lets a gateway write its status but not read it: PUBACK is the proof.
    assert "PUBACK dipakai sebagai bukti" in out
    assert "3 data menunggu dikirim" in out
    # The test message went out not retained, as a valid status telling the service is down.
    (message,) = ingest.on(status_topic)
    assert not message.retain
    payload = message.json()
    assert payload["gateway"] == GW and payload["state"] == "offline" and payload["doctor"]
    # The spool is exactly as it was: nothing consumed, no seq handed out.
    with Spool(site.spool) as spool:
        assert spool.depth() == 3
        assert spool.next_seq() == 0


@pytest.mark.services
def test_a_wrong_baud_rate_fails_with_the_right_one(site: Site, acl_broker: Mosquitto) -> None:
    """The most common roadside fault: everything else passes (as in the test above), the
    config says 19200 where the sensor talks at 9600: exit 1, and the remedy says 9600."""
    site.modbus(device_baud=9600, config_baud=19200)
    site.counter()
    done = doctor(site.config(acl_broker.url), "--json", "--lang", "en")
    assert done.returncode == 1, done.stdout + done.stderr
    failed = [r for r in json.loads(done.stdout)["checks"] if r["status"] == "fail"]
    assert [r["details"].get("device") for r in failed] == ["env1"]
    (env1,) = failed
    assert env1["details"]["answers_at"] == {"baudrate": 9600, "parity": "N"}
    assert env1["remedy"] == (
        "The sensor answers at 9600 baud 8N1, but the config says 19200 baud 8N1: set "
        '`baudrate = 9600` and `parity = "N"` in the `serial` of device env1'
    )


@pytest.mark.services
def test_a_counter_at_another_baud_rate_fails(site: Site, acl_broker: Mosquitto) -> None:
    """A device that talks on its own at 19200 reaches a gateway set to 9600 as garbage with
    no line end in it: no record, and the remedy names the baud rate."""
    site.modbus()
    site.counter(baud=19200)
    done = doctor(site.config(acl_broker.url), "--json", "--lang", "en")
    assert done.returncode == 1, done.stdout + done.stderr
    failed = [r for r in json.loads(done.stdout)["checks"] if r["status"] == "fail"]
    assert [(r["details"].get("device"), r["key"]) for r in failed] == [
        ("cnt1", "device.traffic_silent")
    ]
    assert "and baud 9600" in failed[0]["remedy"]


@pytest.mark.services
def test_wrong_password_fails_the_login_and_is_never_printed(
    site: Site, acl_broker: Mosquitto
) -> None:
    site.modbus()
    wrong = "salah-Sekali-987"
    done = doctor(site.config(acl_broker.url, password=wrong))
    out = done.stdout
    assert done.returncode == 1
    assert f"Broker menolak login sebagai {GW} (kode alasan MQTT `135 Not authorized`)" in out
    assert "Periksa `mqtt.username` dan isi berkas kata sandi" in out
    assert "Dilewati: login ke broker gagal" in out
    assert wrong not in out + done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.services
def test_broken_site_names_each_problem(site: Site, acl_broker: Mosquitto) -> None:
    site.devices.append(
        {
            "id": "env9",
            "driver": "modbus",
            "serial": {"port": str(site.root / "ttyUSB-gone"), "timeout": 0.5},
            "profile": "pm-th-generic",
        }
    )
    site.modbus("env2", device_baud=19200, config_baud=9600)  # wrong baud in the config
    site.counter("cnt1", running=False)  # cable to a counter that sends nothing
    site.gps("gps1", clock_drift=30.0)  # the gateway clock is 30 s behind the GPS
    done = doctor(site.config(acl_broker.url), "--json", wait="8")
    assert done.returncode == 1
    checks = rows(done)
    missing = next(r for r in checks["serial"] if r["details"]["port"].endswith("ttyUSB-gone"))
    assert missing["status"] == "fail"
    assert "ttyUSB-gone tidak ditemukan" in missing["message"]
    assert "ls /dev/serial/by-id/" in missing["remedy"]
    device = {r["details"]["device"]: r for r in checks["device"]}
    assert device["env9"]["status"] == "skip"
    assert device["env2"]["status"] == "fail"
    assert device["env2"]["details"]["state"] == "timeout"
    # Found at its real speed: the remedy names it.
    assert device["env2"]["details"]["answers_at"] == {"baudrate": 19200, "parity": "N"}
    assert "Sensor menjawab pada 19200 baud 8N1" in device["env2"]["remedy"]
    assert device["cnt1"]["status"] == "fail"
    assert device["cnt1"]["key"] == "device.traffic_silent"
    (gps,) = checks["gps"]
    assert gps["status"] == "warn"
    assert -32 < gps["details"]["clock_offset"] < -28
    behind = re.fullmatch(r"Jam sistem tertinggal ([\d.]+) detik dari GPS", gps["message"])
    assert behind is not None and 28 < float(behind[1]) < 32


@pytest.mark.services
def test_tls_with_the_wrong_ca_then_the_right_one(site: Site, tmp_path: Path) -> None:
    """An mqtts broker (no ACL, anonymous): a CA that did not sign the broker's certificate
    fails the login with the TLS remedy; with the right CA the test message comes back."""
    site.modbus()
    tls, foreign = make_tls_files(tmp_path / "tls"), make_tls_files(tmp_path / "foreign")
    extra = f"cafile {tls['ca.pem']}\ncertfile {tls['server.pem']}\nkeyfile {tls['server.key']}\n"
    with mosquitto(tmp_path / "tls-broker", extra=extra) as broker:
        url = f"mqtts://127.0.0.1:{broker.port}"
        wrong = rows(doctor(site.config(url, None, ca_file=str(foreign["ca.pem"])), "--json"))
        right = doctor(site.config(url, None, ca_file=str(tls["ca.pem"])), "--json")
    (auth,) = wrong["auth"]
    assert auth["status"] == "fail" and auth["message"].startswith("TLS gagal")
    assert "mqtt.ca_file" in auth["remedy"]
    assert wrong["publish"][0]["status"] == "skip"
    assert right.returncode == 0
    checks = rows(right)
    assert checks["auth"][0]["key"] == "auth.anonymous"
    assert checks["publish"][0]["key"] == "publish.echo"  # no ACL: the message came back


@pytest.mark.services
def test_broker_down(site: Site) -> None:
    site.modbus()
    done = doctor(site.config(f"mqtt://127.0.0.1:{free_port()}"))
    assert done.returncode == 1
    assert "menolak koneksi (port tertutup)" in done.stdout
    assert done.stdout.count("Dilewati: broker tidak bisa dihubungi") == 2  # login, publish


@pytest.mark.services
def test_lang_en_switches_the_language(site: Site, acl_broker: Mosquitto) -> None:
    site.modbus()
    done = doctor(site.config(acl_broker.url), "--lang", "en")
    assert done.returncode == 0, done.stdout
    assert "All essential checks passed." in done.stdout
    assert "Unit 1 answered: pm25=" in done.stdout
    assert "PASS" in done.stdout
    assert "LULUS" not in done.stdout and "menjawab" not in done.stdout


@pytest.mark.services
def test_json_while_the_gateway_service_runs(site: Site, acl_broker: Mosquitto) -> None:
    """A running gateway holds the spool (and the ports): the doctor says so, leaves the
    devices alone, and its test status says 'online'."""
    site.modbus()
    config = site.config(acl_broker.url)
    status_topic = f"jagajalan/v1/{GW}/status"
    with Spool(site.spool), Subscriber(acl_broker.port, [status_topic], **INGEST) as ingest:
        done = doctor(config, "--json")
        assert ingest.wait_for(lambda: bool(ingest.on(status_topic)), 10)
    report = json.loads(done.stdout)
    # what was checked passed, but the devices and the spool were not: exit 3, never 0
    assert done.returncode == 3 and report["ok"] is True and report["exit"] == 3
    assert report["unchecked"] == ["device:env1", "spool"]
    assert report["gateway"] == GW and report["lang"] == "id"
    checks = rows(done)
    assert {
        "config",
        "serial",
        "device",
        "broker",
        "auth",
        "publish",
        "spool",
        "disk",
        "clock",
    } <= set(checks)
    assert all(c["key"] in CATALOGUE for group in checks.values() for c in group)
    assert checks["spool"][0]["status"] == "warn"
    assert "sedang dipakai" in checks["spool"][0]["message"]
    assert checks["device"][0]["status"] == "skip"
    assert "systemctl stop jagajalan-gateway" in checks["device"][0]["remedy"]
    assert ingest.on(status_topic)[0].json()["state"] == "online"


def test_config_errors_are_rows_not_tracebacks(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(
        '[gateway]\nid = "srl-dr-01"\ncolour = "red"\n\n[[devices]]\nid = "env1"\n'
        'driver = "modbus"\nprofile = "pm-th-generic"\n'
        'serial = { port = "/dev/ttyUSB0", baudrate = 9601 }\n'
    )
    done = doctor(path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"{path}: devices[0].serial.baudrate = 9601" in done.stdout
    assert "Perbaiki `devices[0].serial.baudrate`" in done.stdout
    assert "gateway.colour" in done.stdout
    assert "Jam sistem" in done.stdout  # the clock is still checked


def test_a_username_other_than_the_gateway_id_fails(tmp_path: Path) -> None:
    """The shipped broker accepts a gateway's connection only as client id == username and keys
    its ACL on the username: a config whose username differs from the gateway id cannot work."""
    password = tmp_path / "pw"
    password.write_text("secret\n")
    password.chmod(0o600)
    path = tmp_path / "gateway.toml"
    path.write_text(
        '[gateway]\nid = "srl-dr-01"\n\n[mqtt]\nurl = "mqtt://127.0.0.1:1"\n'
        f'username = "srl-dr-02"\npassword_file = "{password}"\n\n'
        '[spool]\npath = "spool.sqlite"\n\n'
        '[[devices]]\nid = "env1"\ndriver = "modbus"\nprofile = "pm-th-generic"\n'
        f'serial = {{ port = "{tmp_path / "ttyUSB0"}", baudrate = 9600 }}\n'
    )
    done = doctor(path, "--json")
    config = [row for row in json.loads(done.stdout)["checks"] if row["check"] == "config"]
    refused = [row for row in config if row["status"] == "fail"]
    assert refused and "srl-dr-02" in refused[0]["message"], config
    assert done.returncode == 1


# -- pieces, in-process ---------------------------------------------------------------------


def test_a_hanging_check_times_out_and_the_others_finish() -> None:
    release = threading.Event()

    def hang() -> list[Result]:
        release.wait(30)
        return []

    quick = [
        Result("disk", T("name.disk"), "pass", T("disk.ok", free="1 GB", mount="/", percent=50))
    ]
    try:
        hung, fine = run_tasks(
            [
                Task("broker", T("name.broker"), hang, 0.3),
                Task("disk", T("name.disk"), lambda: quick, 10),
            ]
        )
    finally:
        release.set()
    assert [(r.check, r.status, r.message.key) for r in hung] == [
        ("broker", "fail", "check.timeout")
    ]
    assert fine == quick


def test_ntp_status_from_timedatectl() -> None:
    """timedatectl needs systemd as PID 1, which this test machine does not run, so its
    answers are given to check_ntp through the runner argument."""

    def answer(stdout: str, rc: int = 0):
        return lambda *a, **k: subprocess.CompletedProcess(a, rc, stdout, "no systemd")

    def missing(*a, **k):
        raise FileNotFoundError("timedatectl")

    assert check_ntp(answer("NTP=yes\nNTPSynchronized=yes\n")).status == "pass"
    assert check_ntp(answer("NTP=yes\nNTPSynchronized=no\n")).message.key == "ntp.unsynced"
    assert check_ntp(answer("NTP=no\nNTPSynchronized=no\n")).message.key == "ntp.disabled"
    assert check_ntp(answer("", rc=1)).status == "skip"
    assert check_ntp(missing).status == "skip"


def test_clock_before_2025_fails() -> None:
    unset = check_clock(0.0)
    assert unset.status == "fail" and "1970-01-01 07:00:00" in unset.message.render()
    assert "spool" in unset.message.render()  # says the readings are held, not lost
    assert check_clock(time.time()).status == "pass"


def test_a_file_that_is_not_a_serial_port(tmp_path: Path) -> None:
    path = tmp_path / "ttyUSB0"
    path.write_text("")
    result = check_serial(str(path))
    assert result.status == "fail" and result.message.key == "serial.not_tty"


@pytest.mark.services
def test_a_broken_spool_is_reported_and_left_untouched(
    tmp_path: Path, acl_broker: Mosquitto
) -> None:
    config = make_config(
        tmp_path,
        GW,
        acl_broker.url,
        [{"driver": "traffic_counter", "id": "c", "serial": {"port": "/dev/null"}}],
    )
    config.spool_path.write_bytes(b"this is not an SQLite database, it is a corrupt card" * 20)
    before = config.spool_path.read_bytes()
    (result,), running = check_spool(config, time.time)
    assert not running
    assert result.status == "fail" and result.message.key == "spool.broken"
    assert f"{config.spool_path}.rusak" in result.remedy.render()
    assert config.spool_path.read_bytes() == before
    assert sorted(
        p.name for p in tmp_path.iterdir() if p.name.startswith(config.spool_path.name)
    ) == [config.spool_path.name]


@pytest.mark.services
def test_each_run_logs_in_with_a_new_id_the_broker_rule_accepts(site: Site, tmp_path: Path) -> None:
    """The broker's own log names the client id and user of each connection: the doctor's id
    is <user>.doctor.<8 hex>, different each run, so it never takes the gateway's session."""
    site.counter()
    acl = (REPO / "deploy/mosquitto/acl.example").read_text()
    with mosquitto(
        tmp_path / "mq", passwords={GW: PASSWORD}, acl=acl, extra="log_type notice\n"
    ) as broker:
        reports = [rows(doctor(site.config(broker.url), "--json", wait="1")) for _ in range(2)]
        log = broker.log.read_text()
    seen = re.findall(r"New client connected from \S+ as (\S+) \(.*u'([^']+)'\)", log)
    ids = [cid for cid, user in seen if user == GW]
    assert len(ids) == 2 and ids[0] != ids[1], log
    for cid, report in zip(ids, reports, strict=True):
        assert re.fullmatch(rf"{GW}\.doctor\.[0-9a-f]{{8}}", cid)
        assert client_id_allowed(cid, GW)
        assert report["auth"][0]["details"]["client_id"] == cid
