"""`jagajalan firmware rollout` end to end: a signed gateway bundle, the test kit's registry
(SQLite: srl-gauge-01 and srl-pasar-01 in kecamatan Sarolangun, srl-pauh-01 in Pauh), a real
Mosquitto of the test's own, and a simulated fleet that checks each command's minisign
signature with the public key, as `gateway-update --command` does, and answers with its status
(test_runner.Fleet: updated, or rolled back). A good release goes through every group (exit 0,
one line per gateway and group, in Bahasa Indonesia); a pilot that rolls back halts the
rollout (exit 1) before any other group is commanded; bad input is refused with exit 2 and
nothing sent; an unreachable broker is exit 3.

Faked: the gateways (the fleet answers for them; the real gateway's side of the cmd topic runs
in tests/firmware_tools/gateway_update/test_real_gateway_command.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from firmware_tools.bundle import SecretKey, make_manifest, write_bundle
from firmware_tools.rollout.signing import checker
from jagajalan.cli import main
from registry import db
from registry.desired import desired
from testkit.services import free_port, mosquitto
from testkit.sites import import_registry

from .test_runner import Fleet

pytestmark = pytest.mark.services
VERSION = "9.9.0"


@pytest.fixture
def kit(tmp_path: Path):
    engine = db.engine_for(f"sqlite+pysqlite:///{tmp_path / 'registry.sqlite3'}")
    import_registry(engine, tmp_path / "registry.toml")
    engine.dispose()
    key = SecretKey.generate()
    secret = tmp_path / "fw.key"
    secret.write_text(key.dump(None))
    secret.chmod(0o600)
    image = b"release " * 100
    manifest = make_manifest(
        image,
        "gw.tar.gz",
        target="gateway-test",
        version=VERSION,
        counter=4,
        valid_for=timedelta(days=2),
    )
    bundle = tmp_path / "gw.jjfw"
    write_bundle(bundle, manifest, image, key)
    with mosquitto(tmp_path / "mq") as broker:
        args = [
            "firmware",
            "rollout",
            str(bundle),
            "--bundle-url",
            "https://u.example/gw.jjfw",
            "--secret-key",
            str(secret),
            "--registry-db",
            str(tmp_path / "registry.sqlite3"),
            "--broker-url",
            broker.url,
            "--deadline",
            "5",
            "--timeout",
            "60",
        ]
        yield args, broker, key, tmp_path


def fleet(broker, key, fate=None) -> Fleet:
    return Fleet(broker.port, "srl-", fate or {}, old="1.0.0", check=checker([key.public_key]))


def test_a_good_release_goes_through_every_group(kit, capsys) -> None:
    args, broker, key, _ = kit
    fl = fleet(broker, key)
    try:
        code = main([*args, "--order", "Pauh"])
    finally:
        fl.close()
    out = capsys.readouterr().out
    assert code == 0, out
    assert sorted(fl.commanded) == ["srl-gauge-01", "srl-pasar-01", "srl-pauh-01"]
    assert fl.refused == []
    lines = out.splitlines()
    assert "kelompok 1/2 Pauh: perintah dikirim ke 1 gateway" in lines
    assert "kelompok 2/2 Sarolangun: perintah dikirim ke 2 gateway" in lines
    for gateway in fl.commanded:
        assert f"  {gateway}: BERHASIL, kini menjalankan {VERSION}" in lines
    assert lines.index("kelompok Pauh selesai: 1 berhasil, 0 gagal") < lines.index(
        "kelompok 2/2 Sarolangun: perintah dikirim ke 2 gateway"
    )
    assert lines[-1] == f"SELESAI: 3 gateway kini menjalankan {VERSION}"
    engine = db.engine_for(f"sqlite+pysqlite:///{kit[3] / 'registry.sqlite3'}")
    recorded = [(d.gateway, d.group, d.version, d.counter) for d in desired(engine)]
    engine.dispose()
    assert recorded == [
        ("srl-gauge-01", "Sarolangun", VERSION, 4),
        ("srl-pasar-01", "Sarolangun", VERSION, 4),
        ("srl-pauh-01", "Pauh", VERSION, 4),
    ]


def test_a_pilot_that_rolls_back_halts_the_rollout(kit, capsys) -> None:
    args, broker, key, _ = kit
    fl = fleet(broker, key, {"srl-gauge-01": "rolled_back"})
    try:
        code = main([*args, "--pilot", "srl-gauge-01", "--lang", "en"])
    finally:
        fl.close()
    captured = capsys.readouterr()
    assert code == 1, captured
    assert fl.commanded == ["srl-gauge-01"]
    assert (
        "  srl-gauge-01: FAILED, the new version was unhealthy; the gateway went back to 1.0.0"
        in (captured.out.splitlines())
    )
    assert captured.err.startswith("HALTED: in group pilot 1 of 1 gateways failed")
    assert "2 gateways were not sent a command" in captured.err
    engine = db.engine_for(f"sqlite+pysqlite:///{kit[3] / 'registry.sqlite3'}")
    assert [(d.gateway, d.group) for d in desired(engine)] == [("srl-gauge-01", "pilot")]
    engine.dispose()


def test_bad_input_is_refused_before_anything_is_sent(kit, capsys) -> None:
    args, broker, key, tmp_path = kit
    fl = fleet(broker, key)
    tampered = tmp_path / "bad.jjfw"
    data = bytearray(Path(args[2]).read_bytes())
    data[-50] ^= 1
    tampered.write_bytes(bytes(data))
    Path(f"{tampered}.minisig").write_bytes(Path(f"{args[2]}.minisig").read_bytes())
    try:
        cases = {
            "pilot": ([*args, "--pilot", "srl-nowhere"], "srl-nowhere"),
            "kecamatan": ([*args, "--order", "Atlantis"], "Atlantis"),
            "bundle": ([*args[:2], str(tampered), *args[3:]], "[signature]"),
            "missing": ([*args[:2], str(tmp_path / "no.jjfw"), *args[3:]], "no.jjfw"),
        }
        for name, (argv, named) in cases.items():
            assert main([*argv, "--lang", "en"]) == 2, name
            assert named in capsys.readouterr().err, name
        with pytest.raises(SystemExit) as exited:
            main([*args, "--max-failures", "1.5"])
        assert exited.value.code == 2
        assert main([*args, "--dry-run"]) == 0
        assert "  kelompok 1. Pauh: srl-pauh-01" in capsys.readouterr().out
    finally:
        fl.close()
    assert fl.commanded == []


def test_an_unreachable_broker_is_exit_3(kit, capsys) -> None:
    args, *_ = kit
    argv = [*args, "--broker-url", f"mqtt://127.0.0.1:{free_port()}", "--lang", "en"]
    assert main(argv) == 3
    assert "cannot reach the broker" in capsys.readouterr().err
