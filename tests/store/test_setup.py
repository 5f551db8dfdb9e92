"""``jagajalan store setup``: the pure plan, and the command against a real InfluxDB 1.6 with
``auth-enabled = true``, where each service user gets exactly the privilege of
store.privileges.SERVICE_USERS (the table docs/scaling.md shows, checked here too)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jagajalan.cli import main
from store import privileges
from store.influx import InfluxStore
from store.retention import RetentionSettings
from store.setup import ServerState, UserSpec, plan
from testkit import REPO
from testkit.influx_setup import Secured
from testkit.ingest import Receiver
from testkit.services import free_port, influxd

SERVICES = [u.service for u in privileges.SERVICE_USERS]


def shown(statements) -> list[str]:
    return [s.shown for s in statements]


# -- the plan (pure) ---------------------------------------------------------------------------


def test_plan_for_an_empty_server_masks_every_password() -> None:
    users = [UserSpec("jj_in", "WRITE", "s3cret-'quote"), UserSpec("jj_api", "READ", "other-pw")]
    statements = plan("jagajalan", RetentionSettings(), users, ServerState())
    assert shown(statements)[0] == 'CREATE DATABASE "jagajalan"'
    assert [s.split(" ON ")[0] for s in shown(statements)[1:4]] == [
        'CREATE RETENTION POLICY "raw"',
        'CREATE RETENTION POLICY "rollup_1m"',
        'CREATE RETENTION POLICY "rollup_1h"',
    ]
    assert len([s for s in shown(statements) if s.startswith("CREATE CONTINUOUS")]) == 4
    assert shown(statements)[-4:] == [
        "CREATE USER \"jj_in\" WITH PASSWORD '***'",
        'GRANT WRITE ON "jagajalan" TO "jj_in"',
        "CREATE USER \"jj_api\" WITH PASSWORD '***'",
        'GRANT READ ON "jagajalan" TO "jj_api"',
    ]
    assert statements[-4].text == "CREATE USER \"jj_in\" WITH PASSWORD 's3cret-\\'quote'"
    everything_shown = "\n".join(shown(statements)) + repr(statements)
    assert "s3cret" not in everything_shown and "other-pw" not in everything_shown


def test_plan_takes_back_every_privilege_a_user_should_not_have() -> None:
    state = ServerState(
        databases={"jagajalan", "other"},
        users={"jj_in": True, "jj_api": False},
        grants={
            "jj_in": {"jagajalan": "ALL PRIVILEGES", "other": "READ", "old": "NO PRIVILEGES"},
            "jj_api": {"jagajalan": "READ"},
        },
    )
    users = [UserSpec("jj_in", "WRITE", "pw-1-long"), UserSpec("jj_api", "READ", "pw-2-long")]
    statements = plan("jagajalan", RetentionSettings(), users, state)
    users_part = [s for s in shown(statements) if "RETENTION" not in s and "CONTINUOUS" not in s]
    assert users_part == [
        "SET PASSWORD FOR \"jj_in\" = '***'",
        'REVOKE ALL PRIVILEGES FROM "jj_in"',  # admin no more
        'REVOKE ALL PRIVILEGES ON "other" FROM "jj_in"',
        'GRANT WRITE ON "jagajalan" TO "jj_in"',  # GRANT replaces ALL with WRITE
        "SET PASSWORD FOR \"jj_api\" = '***'",  # already exactly right: only the password
    ]


def test_odd_names_are_quoted_by_the_one_quoting_function() -> None:
    users = [UserSpec('we"ird\\name', "READ", "pw'\n\\x")]
    statements = plan('d"b', RetentionSettings(), users, ServerState())
    assert shown(statements)[0] == 'CREATE DATABASE "d\\"b"'
    assert statements[-2].text == "CREATE USER \"we\\\"ird\\\\name\" WITH PASSWORD 'pw\\'\\n\\\\x'"
    assert shown(statements)[-1] == 'GRANT READ ON "d\\"b" TO "we\\"ird\\\\name"'


def test_docs_show_the_privileges_table_the_code_grants() -> None:
    assert privileges.markdown_table() in (REPO / "docs" / "scaling.md").read_text()
    assert [(u.service, u.privilege) for u in privileges.SERVICE_USERS] == [
        ("ingest", "WRITE"),
        ("api", "READ"),
        ("alerts", "ALL"),  # reads the indicators, writes the active alerts' counts
        ("grafana", "READ"),
        ("analytics", "ALL"),  # the indicators job reads readings and writes what it derives
    ]


# -- the command against a real InfluxDB with auth ---------------------------------------------


@pytest.fixture
def secured(tmp_path: Path):
    with influxd(tmp_path / "influx", auth=True) as server:
        s = Secured(server, tmp_path / "secrets")
        s.create_admin()
        yield s


def _rps(s: Secured) -> dict[str, list]:
    (result,) = s.query('SHOW RETENTION POLICIES ON "jagajalan"')
    return {row[0]: row[1:] for row in result["series"][0]["values"]}


def _cqs(s: Secured) -> set[str]:
    (result,) = s.query("SHOW CONTINUOUS QUERIES")
    return {
        row[0]
        for series in result["series"]
        if series["name"] == "jagajalan"
        for row in series.get("values", [])
    }


def _state(s: Secured) -> tuple:
    users = s.users()
    return users, {u: s.grants(u) for u in users}, _rps(s), _cqs(s)


@pytest.mark.services
def test_setup_on_an_empty_secured_influxdb_and_again(secured: Secured, capsys) -> None:
    assert main(secured.setup_args("jagajalan", *SERVICES)) == 0
    out = capsys.readouterr().out
    users = {u.default_username: u.privilege for u in privileges.SERVICE_USERS}
    assert secured.users() == {"jj_admin": True, **{name: False for name in users}}
    for name, privilege in users.items():
        assert secured.grants(name) == {"jagajalan": privileges.SHOWN[privilege]}, name
    assert secured.grants("jagajalan_analytics") == {"jagajalan": "ALL PRIVILEGES"}
    assert _rps(secured)["raw"] == ["2160h0m0s", "24h0m0s", 1, True]
    assert _cqs(secured) == {"rollup_1m", "rollup_1m_sum", "rollup_1h", "rollup_1h_sum"}
    assert 'ran: GRANT WRITE ON "jagajalan" TO "jagajalan_ingest"' in out
    assert 'ran: GRANT ALL ON "jagajalan" TO "jagajalan_analytics"' in out
    assert "ran: CREATE USER \"jagajalan_api\" WITH PASSWORD '***'" in out
    for service in SERVICES:
        assert secured.password(service) not in out
    # Each user can log in with its password file's content.
    secured.store("ingest", "jagajalan").check_write()
    secured.store("grafana", "jagajalan").check_read()
    analytics = secured.store("analytics", "jagajalan")
    analytics.check_read()
    analytics.check_write()

    before = _state(secured)
    assert main(secured.setup_args("jagajalan", *SERVICES)) == 0
    again = [line for line in capsys.readouterr().out.splitlines() if line.startswith("ran: ")]
    assert all(line.startswith("ran: SET PASSWORD FOR") for line in again), again
    assert len(again) == len(SERVICES)
    assert _state(secured) == before


@pytest.mark.services
def test_a_user_with_more_privileges_is_reduced_to_what_it_needs(secured: Secured) -> None:
    secured.query('CREATE DATABASE "jagajalan"; CREATE DATABASE "elsewhere"')
    secured.query("CREATE USER \"jagajalan_ingest\" WITH PASSWORD 'old-password-1'")
    secured.query('GRANT ALL PRIVILEGES TO "jagajalan_ingest"')  # admin
    secured.query('GRANT ALL ON "jagajalan" TO "jagajalan_ingest"')
    secured.query('GRANT READ ON "elsewhere" TO "jagajalan_ingest"')
    secured.query("CREATE USER \"jagajalan_api\" WITH PASSWORD 'old-password-2'")
    secured.query('GRANT WRITE ON "jagajalan" TO "jagajalan_api"')
    assert main(secured.setup_args("jagajalan", "ingest", "api")) == 0
    assert secured.users()["jagajalan_ingest"] is False
    assert secured.grants("jagajalan_ingest") == {
        "jagajalan": "WRITE",
        "elsewhere": "NO PRIVILEGES",
    }
    assert secured.grants("jagajalan_api") == {"jagajalan": "READ"}
    with pytest.raises(Exception, match="may not read"):
        secured.store("ingest", "jagajalan").check_read()
    with pytest.raises(Exception, match="may not write"):
        secured.store("api", "jagajalan").check_write()


@pytest.mark.services
def test_only_users_whose_password_file_is_given_are_touched(secured: Secured) -> None:
    assert main(secured.setup_args("jagajalan", "ingest")) == 0
    assert set(secured.users()) == {"jj_admin", "jagajalan_ingest"}
    secured.query('GRANT READ ON "jagajalan" TO "jagajalan_ingest"')  # somebody's change
    assert main(secured.setup_args("jagajalan", "api")) == 0
    assert secured.grants("jagajalan_ingest") == {"jagajalan": "READ"}  # not ingest's run
    assert secured.grants("jagajalan_api") == {"jagajalan": "READ"}


@pytest.mark.services
def test_dry_run_changes_nothing(secured: Secured, capsys) -> None:
    assert main([*secured.setup_args("jagajalan", "ingest", "api"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert 'would run: CREATE DATABASE "jagajalan"' in out
    assert "would run: CREATE USER \"jagajalan_ingest\" WITH PASSWORD '***'" in out
    assert "nothing changed (dry run)" in out
    assert secured.password("ingest") not in out
    assert set(secured.users()) == {"jj_admin"}
    (result,) = secured.query("SHOW DATABASES")
    assert "values" not in result["series"][0]


@pytest.mark.services
def test_refusals_exit_3_with_a_clear_line(secured: Secured, tmp_path: Path, capsys) -> None:
    base = ["store", "setup", "--influx-url", secured.url]
    assert main(base) == 3  # no login on an InfluxDB with auth
    assert "store setup needs an InfluxDB admin" in capsys.readouterr().err
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password\n")
    args = [*base, "--admin-username", "jj_admin", "--admin-password-file", str(wrong)]
    assert main(args) == 3
    err = capsys.readouterr().err
    assert "refused the login of user 'jj_admin'" in err and "not-the-password" not in err
    assert main(secured.setup_args("jagajalan", "api")) == 0
    capsys.readouterr()
    not_admin = [*base, "--admin-username", "jagajalan_api"]
    assert main([*not_admin, "--admin-password-file", str(secured.password_file("api"))]) == 3
    assert "requires admin privilege (is user 'jagajalan_api' an InfluxDB admin?)" in (
        capsys.readouterr().err
    )
    gone = ["store", "setup", "--influx-url", f"http://127.0.0.1:{free_port()}"]
    assert main(gone) == 3
    assert "is unreachable" in capsys.readouterr().err
    assert main([*gone, "--wait", "0.5"]) == 3
    assert "did not answer /ping in 0.5s" in capsys.readouterr().err


def test_config_errors_exit_2_naming_option_and_file(tmp_path: Path, capsys) -> None:
    empty, default, good = tmp_path / "empty", tmp_path / "default", tmp_path / "good"
    empty.write_text("\n")
    default.write_text("changeme\n")
    good.write_text("a-Real-secret-9\n")
    args = ["store", "setup", "--influx-url", "http://127.0.0.1:9"]
    args += ["--admin-username", "root", "--admin-password-file", str(good)]
    args += ["--ingest-password-file", str(empty), "--api-password-file", str(default)]
    args += ["--grafana-username", "root", "--grafana-password-file", str(good)]
    args += ["--alerts-username", "jagajalan_ingest", "--alerts-password-file", str(good)]
    assert main([*args, "--raw-retention", "30m"]) == 2
    err = capsys.readouterr().err
    assert f"--ingest-password-file = '{empty}': the secret is empty" in err
    assert f"--api-password-file = '{default}': a well-known default secret" in err
    assert "--grafana-username = 'root': is the admin" in err
    assert "--alerts-username = 'jagajalan_ingest': is also ingest's" in err
    assert "--raw-retention = '30m': InfluxDB keeps data at least 1h" in err
    token = ["store", "setup", "--influx-url", "http://127.0.0.1:9"]
    token += ["--admin-token-file", str(good), "--ingest-password-file", str(good)]
    assert main(token) == 2
    assert "--ingest-password-file" in capsys.readouterr().err
    assert "a-Real-secret-9" not in err


def test_statements_travel_in_the_body_never_in_the_url(tmp_path: Path) -> None:
    """A loopback receiver stands in for InfluxDB (it answers every request with an empty
    result), to show what goes over the wire: InfluxDB itself does not show its request URLs."""
    secret = tmp_path / "pw"
    secret.write_text("Very-secret-42\n")
    admin = tmp_path / "admin"
    admin.write_text("Admin-secret-42\n")
    with Receiver(status=200, answer=json.dumps({"results": [{"statement_id": 0}]}).encode()) as r:
        args = ["store", "setup", "--influx-url", r.url, "--ingest-password-file", str(secret)]
        args += ["--admin-username", "jj_admin", "--admin-password-file", str(admin)]
        assert main(args) == 0
    queries = [q for q in r.requests if q.path == "/query"]
    assert any(b"Very-secret-42" in q.body for q in queries)  # CREATE USER, in the body
    for q in r.requests:
        assert "q" not in q.params and "secret" not in json.dumps(q.params)
        assert "Very-secret" not in str(q.headers) and "Admin-secret" not in q.body.decode()


def test_with_a_token_nothing_is_created_and_the_check_says_why(tmp_path: Path, capsys) -> None:
    """InfluxDB 2.x/3.x cannot run here (only 1.6 is packaged): a loopback receiver answers as
    their v1 API would for a bucket that is not mapped (404 database not found)."""
    token = tmp_path / "token"
    token.write_text("tok-123456\n")
    missing = json.dumps({"error": 'database not found: "jagajalan"'}).encode()
    with Receiver(status=404, answer=missing) as r:
        assert (
            main(["store", "setup", "--influx-url", r.url, "--admin-token-file", str(token)]) == 3
        )
        err = capsys.readouterr()
        assert "are InfluxDB 1.x features" in err.out and "DBRP mapping" in err.out
        assert "database 'jagajalan' does not exist" in err.err
        r.status, r.answer = 204, b""
        assert (
            main(["store", "setup", "--influx-url", r.url, "--admin-token-file", str(token)]) == 0
        )
        assert "this token may write to it" in capsys.readouterr().out
    assert {q.path for q in r.requests} == {"/write"}  # an empty write each time: nothing made
    assert all(q.headers["authorization"] == "Token tok-123456" for q in r.requests)


def test_influx_store_constructor_contacts_nothing() -> None:
    with Receiver(status=204) as r:
        InfluxStore(r.url, "jagajalan", username="u", password="p").close()
    assert r.requests == []
