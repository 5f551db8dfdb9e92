"""``jagajalan registry key``: a key is shown once and stored only as a salted scrypt hash,
listed without secrets, revoked by prefix, and checked; on SQLite and PostgreSQL, with
messages in Bahasa Indonesia (default) and English."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from jagajalan.cli import main
from registry import keys
from registry.models import ApiKey
from tests.registry.conftest import Database
from tests.registry.test_cli import SMALL, write


def test_create_list_revoke(database: Database, capsys: pytest.CaptureFixture[str]) -> None:
    opts = database.options
    assert main(["registry", "init", *opts]) == 0
    capsys.readouterr()
    assert main(["registry", "key", "create", "--role", "viewer", "--name", "dinas", *opts]) == 0
    out, err = capsys.readouterr()
    whole = out.strip()
    prefix, secret = keys.split(whole) or ("", "")
    assert whole == f"jj_{prefix}_{secret}" and len(secret) >= 40  # 32 random bytes
    assert "hanya kali ini" in err and prefix in err and secret not in err

    with Session(database.engine) as session:
        row = session.scalars(select(ApiKey)).one()
    assert (row.id, row.prefix, row.role) == ("dinas", prefix, "viewer")
    assert row.key_hash.startswith("scrypt$16384$8$1$") and secret not in row.key_hash
    assert keys.check(database.engine, whole).role == "viewer"  # type: ignore[union-attr]
    assert keys.check(database.engine, whole[:-1] + ("A" if whole[-1] != "A" else "B")) is None

    assert main(["registry", "key", "create", "--role", "admin", *opts]) == 0
    second = capsys.readouterr().out.strip()
    assert keys.split(second)[0] != prefix  # type: ignore[index]
    with Session(database.engine) as session:
        salts = {r.key_hash.split("$")[4] for r in session.scalars(select(ApiKey))}
    assert len(salts) == 2  # a salt per key

    assert main(["registry", "key", "list", *opts, "--lang", "en"]) == 0
    listed = capsys.readouterr().out
    assert "API keys (2)" in listed and "dinas" in listed and prefix in listed
    assert secret not in listed and "scrypt" not in listed

    assert main(["registry", "key", "revoke", prefix, *opts]) == 0
    assert "dicabut" in capsys.readouterr().out
    assert keys.check(database.engine, whole) is None
    assert keys.check(database.engine, second) is not None


def test_key_mistakes_are_named(database: Database, tmp_path, capsys) -> None:
    opts = database.options
    assert main(["registry", "init", *opts]) == 0
    assert main(["registry", "import", str(write(tmp_path, SMALL)), *opts]) == 0
    assert main(["registry", "key", "create", "--role", "viewer", "--name", "a", *opts]) == 0
    capsys.readouterr()
    assert main(["registry", "key", "create", "--role", "viewer", "--name", "a", *opts]) == 2
    assert "sudah dipakai" in capsys.readouterr().err
    args = ["registry", "key", "create", "--role", "operator", "--contact", "nobody", *opts]
    assert main([*args, "--lang", "en"]) == 2
    assert "Contact nobody is not in the registry" in capsys.readouterr().err
    assert main([*args[: -len(opts)], *opts]) == 2
    args[6] = "piket-pupr"  # a contact of SMALL
    assert main(args) == 0
    assert main(["registry", "key", "revoke", "ffffffff", *opts, "--lang", "en"]) == 2
    assert "No API key has the prefix or name ffffffff" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["registry", "key", "create", "--role", "root", *opts])
    with pytest.raises(keys.KeyProblem):
        keys.create(database.engine, "root")


def test_keys_need_a_migrated_registry(tmp_path, capsys) -> None:
    db = ["--registry-db", str(tmp_path / "none.sqlite3")]
    assert main(["registry", "key", "list", *db]) == 3
    assert not (tmp_path / "none.sqlite3").exists()
