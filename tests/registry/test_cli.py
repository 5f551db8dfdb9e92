"""`jagajalan registry`: errors that point (file, key, value) in the user's language, changes
and removals reported, exit codes, and the database options."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from jagajalan.cli import main
from kernel.settings import add_options, load
from registry.settings import RegistrySettings
from tests.registry.conftest import Database

SMALL = """
[[sites]]
id = "pasar-sarolangun"
name = "Jl. Lintas Sumatera, Pasar Sarolangun"
road = "Jl. Lintas Sumatera"
kecamatan = "Sarolangun"
latitude = -2.2985
longitude = 102.7045
capacity_smp_per_hour = 2300
[sites.flood]
ladder = "road_depth"
waspada_cm = 10
siaga_cm = 20
awas_cm = 30

[[gateways]]
id = "srl-pasar-01"
site = "pasar-sarolangun"

[[sensors]]
gateway = "srl-pasar-01"
id = "wl1"
device = "modbus"
profile = "level-ultrasonic-generic"
installed_on = 2026-03-02

[[contacts]]
id = "piket-pupr"
name = "Piket Dinas PUPR"
role = "operator"
telegram = "@jagajalan_pupr_srl"
"""


def write(tmp_path: Path, text: str, name: str = "registry.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "key", "value", "words_id", "words_en"),
    [
        (
            ('id = "srl-pasar-01"\nsite', 'id = "ingest-1"\nsite'),
            "gateways[0].id",
            "'ingest-1'",
            "dicadangkan",
            "is reserved",
        ),
        (
            ("siaga_cm = 20", "siaga_cm = 40"),
            "sites[0].flood.awas_cm",
            "30",
            "harus naik",
            "must rise",
        ),
        (
            ('site = "pasar-sarolangun"', 'site = "pasar"'),
            "gateways[0].site",
            "'pasar'",
            "tidak ada",
            "no such site",
        ),
        (
            ('gateway = "srl-pasar-01"', 'gateway = "srl-pauh-01"'),
            "sensors[0].gateway",
            "'srl-pauh-01'",
            "tidak ada",
            "no such gateway",
        ),
        (
            ('kecamatan = "Sarolangun"', 'kecamatan = "Jambi"'),
            "sites[0].kecamatan",
            "'Jambi'",
            "Pauh",
            "Pauh",
        ),
        (
            ("capacity_smp_per_hour", "capacity_smp_per_jam"),
            "sites[0].capacity_smp_per_jam",
            "2300",
            "capacity_smp_per_hour",
            "capacity_smp_per_hour",
        ),
        (
            ('telegram = "@jagajalan_pupr_srl"', 'telegram = "jagajalan"'),
            "contacts[0].telegram",
            "'jagajalan'",
            "",
            "",
        ),
    ],
)
def test_a_bad_file_names_file_key_and_value_in_both_languages(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: tuple[str, str],
    key: str,
    value: str,
    words_id: str,
    words_en: str,
) -> None:
    assert change[0] in SMALL
    path = write(tmp_path, SMALL.replace(*change))
    db = ["--registry-db", str(tmp_path / "r.sqlite3")]
    assert main(["registry", "import", str(path), *db]) == 2
    indonesian = capsys.readouterr().err
    assert main(["registry", "import", str(path), *db, "--lang", "en"]) == 2
    english = capsys.readouterr().err
    for shown, words in ((indonesian, words_id), (english, words_en)):
        assert f"{path}: {key} = {value}" in shown, shown
        assert words in shown
    assert "masalah" in indonesian and "problem" in english
    assert not (tmp_path / "r.sqlite3").exists()  # nothing touched the database


def test_changes_dry_run_and_prune(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    opts = [*database.options, "--lang", "en"]
    assert main(["registry", "upgrade", *opts]) == 0
    assert main(["registry", "import", str(write(tmp_path, SMALL)), *opts]) == 0
    capsys.readouterr()

    changed = SMALL.replace("2300", "2250").replace('id = "piket-pupr"', 'id = "bpbd"')
    path = write(tmp_path, changed, "changed.toml")
    assert main(["registry", "import", str(path), *opts, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Sites: 0 added, 1 changed, 0 removed, 0 unchanged" in out
    assert "Contacts: 1 added, 0 changed, 0 removed, 0 unchanged" in out
    assert "Dry run" in out
    assert main(["registry", "import", str(path), *opts, "--dry-run"]) == 0
    assert "1 changed" in capsys.readouterr().out  # the dry run saved nothing

    assert main(["registry", "import", str(path), *opts]) == 0
    capsys.readouterr()
    assert main(["registry", "list", "sites", *opts]) == 0
    assert "2250" in capsys.readouterr().out
    assert main(["registry", "import", str(path), *opts, "--prune"]) == 0
    out = capsys.readouterr().out
    assert "Contacts: 0 added, 0 changed, 1 removed, 1 unchanged" in out
    assert "Contact channels: 0 added, 0 changed, 1 removed, 1 unchanged" in out

    exported = tmp_path / "out.toml"
    assert main(["registry", "export", str(exported), *opts]) == 0
    text = exported.read_text()
    assert 'id = "bpbd"' in text and "piket-pupr" not in text
    assert "installed_on = 2026-03-02" in text


def test_list_shows_the_registry_in_the_chosen_language(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    opts = database.options
    assert main(["registry", "init", *opts]) == 0
    assert main(["registry", "import", str(write(tmp_path, SMALL)), *opts]) == 0
    capsys.readouterr()
    assert main(["registry", "list", "sensors", *opts]) == 0
    out = capsys.readouterr().out
    assert "Jenis perangkat" in out and "level-ultrasonic-generic" in out
    assert main(["registry", "list", "gateways", *opts, "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "Gateways (1)" in out and "pasar-sarolangun" in out


def test_a_database_not_migrated_or_unreachable_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.sqlite3"
    assert main(["registry", "list", "sites", "--registry-db", str(missing)]) == 3
    assert "jagajalan registry upgrade" in capsys.readouterr().err
    assert not missing.exists()  # looking did not create it
    # a port nothing listens on (a PostgreSQL server refuses it at once)
    url = "postgresql://127.0.0.1:1/jagajalan"
    assert main(["registry", "list", "sites", "--registry-url", url, "--lang", "en"]) == 3
    assert "Cannot reach the registry database" in capsys.readouterr().err


def test_database_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """PostgreSQL's password only from a file or the environment, never shown."""
    secret = tmp_path / "pw"
    secret.write_text("s3cr3t-registry\n")
    parser = argparse.ArgumentParser()
    add_options(parser, RegistrySettings)
    args = parser.parse_args(
        ["--registry-url", "postgresql://db.example:6432/jagajalan", "--registry-username", "jj"]
    )
    settings = load(RegistrySettings, args, {"JAGAJALAN_REGISTRY_PASSWORD_FILE": str(secret)})
    url = settings.database_url()
    assert (url.username, url.password, url.port) == ("jj", "s3cr3t-registry", 6432)
    assert "s3cr3t" not in repr(url) and "s3cr3t" not in repr(settings)
    sqlite = load(RegistrySettings, parser.parse_args([]), {}).database_url()
    assert sqlite.database == str(Path.cwd() / "var" / "registry.sqlite3")

    for bad, problem in [
        ("postgresql://user:pw@127.0.0.1/x", "credentials"),
        ("mysql://127.0.0.1/x", "postgresql://host[:port]/database"),
        ("postgresql://127.0.0.1", "postgresql://host[:port]/database"),
    ]:
        argv = ["registry", "list", "sites", "--registry-url", bad, "--lang", "en"]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "--registry-url" in err and problem in err, err
    assert main(["registry", "list", "sites", "--registry-username", "x", "--lang", "en"]) == 2
    assert "needs --registry-url" in capsys.readouterr().err


def test_csv_problems_name_file_line_column_and_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "sites.csv").write_text(
        "\ufeffid,name,road,kecamatan,latitude,longitude,flood.ladder,flood.waspada_cm,"
        "flood.siaga_cm,flood.awas_cm\n"
        "pasar,Pasar,Jl. Lintas Sumatera,Sarolangun,-2.2985,102.7045,road_depth,10,20,30\n"
        'pauh,"Pauh, ruas Karmen",Jl. Lintas,Pauh,utara,102.8,,,,\n',
        encoding="utf-8",
    )
    (folder / "gateways.csv").write_text("id,site\nsrl-pasar-01,pasar\nsrl-x-01,nowhere\n")
    (folder / "sensors.csv").write_text("gateway,id,device,colour\nsrl-pasar-01,env1,modbus,red\n")
    db = ["--registry-db", str(tmp_path / "r.sqlite3")]
    assert main(["registry", "import", str(folder), *db, "--lang", "en"]) == 2
    err = capsys.readouterr().err
    assert "2 problem(s)" in err  # every file's problems at once, each once
    assert f"{folder}: sites.csv line 3, latitude = 'utara': " in err
    assert f"{folder}: sensors.csv line 1, colour = 'colour': unknown key" in err
    assert "gateways.csv" not in err  # references are checked once the rows are valid

    (folder / "sites.csv").write_text(
        (folder / "sites.csv").read_text().replace("utara", "-2.159"), encoding="utf-8"
    )
    (folder / "sensors.csv").write_text("gateway,id,device\nsrl-pasar-01,env1,modbus\n")
    assert main(["registry", "import", str(folder), *db]) == 2
    err = capsys.readouterr().err
    assert f"{folder}: gateways.csv line 3, site = 'nowhere': " in err
    assert "tidak ada" in err
