"""``jagajalan stack init``: every secret of the production stack (docker-compose.yml), made
here and never a default.

Writes into ``--dir`` (default ``./secrets``, the folder docker-compose.yml reads):

- one random password per file for each InfluxDB, MQTT, PostgreSQL and Grafana
  user of the stack (:data:`PASSWORDS`);
- ``mosquitto_passwd``: the broker's password file with a hashed entry for each MQTT user and
  each simulated gateway (Mosquitto 2's own ``$7$`` PBKDF2-SHA512 format, made by
  registry/credentials.py as ``mosquitto_passwd`` would);
- ``mosquitto_acl``: a copy of deploy/mosquitto/acl.example (gateways by pattern, the services
  by name), to edit there when a user is added;
- ``simulated_gateways``: ``<gateway id>:<password>`` lines for the ``simulated`` profile
  (``jagajalan simulate fleet --credentials``);
- ``tls/``: a test CA (``ca.crt``, ``ca.key``) and the broker's certificate signed by it
  (``server.crt``, ``server.key``) for ``--broker-host`` names, made with the ``openssl``
  command (the ``cryptography`` package is not a dependency). Replace them with certificates of
  the district's own CA for production; gateways get ``ca.crt``.

Existing files are kept (running it again adds only what is missing), unless ``--force``.
Secrets are never printed: the output names the files only. The folder is mode 700; its files
are 644 (each container runs as its own user and must read the ones it is given), the CA's key
600.
"""

from __future__ import annotations

import argparse
import ipaddress
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from kernel.text import LANGS, default_lang, tr

#: The shipped ACL, in the checkout this module runs from, else in the working folder (a
#: package installed from the checkout: run `stack init` in the checkout).
ACL_EXAMPLE = Path(__file__).resolve().parents[1] / "deploy" / "mosquitto" / "acl.example"
if not ACL_EXAMPLE.exists():
    ACL_EXAMPLE = Path("deploy") / "mosquitto" / "acl.example"

#: The secret files of the stack: name -> who uses it. docker-compose.yml's ``secrets:`` are
#: exactly these (tests/deploy/test_stack_compose.py).
PASSWORDS: dict[str, str] = {
    "influx_admin_password": "InfluxDB admin (only the one-shot setup service logs in with it)",
    "influx_ingest_password": "InfluxDB jagajalan_ingest (WRITE)",
    "influx_api_password": "InfluxDB jagajalan_api (READ)",
    "influx_alerts_password": "InfluxDB jagajalan_alerts (READ; the indicators' points)",
    "influx_grafana_password": "InfluxDB jagajalan_grafana (READ; Grafana's data source)",
    "influx_analytics_password": "InfluxDB jagajalan_analytics (READ and WRITE)",
    "mqtt_ingest_password": "MQTT user ingest",
    "mqtt_alerts_password": "MQTT user alerts",
    "postgres_password": "PostgreSQL superuser postgres (only the database's own init)",
    "registry_owner_password": "PostgreSQL jagajalan_registry: owns the tables (migrations)",
    "registry_api_password": "PostgreSQL jagajalan_registry_api (reads and writes rows)",
    "registry_alerts_password": "PostgreSQL jagajalan_registry_alerts (alerts, outbox, leases)",
    "registry_analytics_password": "PostgreSQL jagajalan_registry_analytics (reads sites)",
    "grafana_admin_password": "Grafana's admin",
}

#: MQTT user -> its password file; their entries go into mosquitto_passwd.
MQTT_USERS = {"ingest": "mqtt_ingest_password", "alerts": "mqtt_alerts_password"}

#: Names in the broker's certificate without --broker-host: the compose service's own name
#: (the simulated gateways connect to mqtts://mosquitto:8883) and localhost.
DEFAULT_BROKER_HOSTS = ["localhost", "mosquitto"]

TLS_FILES = ("ca.crt", "ca.key", "server.crt", "server.key")

#: Files are readable inside the containers that are given them (Compose bind-mounts a file
#: secret with its host mode and owner, and each image runs as its own user), so the host-side
#: protection is the folder: mode 700, owner root. Only the CA's key is readable by its owner
#: alone: no service needs it.
MODE = 0o644
DIR_MODE = 0o700


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stack", help="the production stack (docker-compose.yml): its secrets")
    actions = p.add_subparsers(dest="stack_action", metavar="ACTION", required=True)
    init = actions.add_parser(
        "init",
        help="generate every secret file, the broker's password file and ACL, and TLS files",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    init.add_argument("--dir", type=Path, default=Path("secrets"), help="default ./secrets")
    init.add_argument(
        "--broker-host",
        action="append",
        default=None,
        help="a name or address gateways use to reach the broker (the server certificate's "
        "subjectAltName); repeat for more; default localhost and mosquitto",
    )
    init.add_argument(
        "--simulated-gateways",
        type=int,
        default=2,
        help="gateways of the `simulated` profile (sim-0001, ...; default 2)",
    )
    init.add_argument(
        "--acl-example",
        type=Path,
        default=ACL_EXAMPLE,
        help="the broker's ACL to copy (default deploy/mosquitto/acl.example of the checkout)",
    )
    init.add_argument("--days", type=int, default=825, help="certificates' validity (days)")
    init.add_argument("--force", action="store_true", help="replace existing files")
    init.add_argument("--lang", choices=LANGS, default=default_lang(), help="id (default) or en")
    init.set_defaults(func=cmd_init)


def _write(path: Path, text: str, force: bool, made: list[Path]) -> None:
    """Writes *text* to *path* (mode 600) unless it exists and not *force*."""
    if path.exists() and not force:
        return
    new = path.with_name(path.name + ".new")
    new.write_text(text, encoding="utf-8")
    new.chmod(MODE)
    new.replace(path)
    made.append(path)


def simulated_ids(count: int) -> list[str]:
    return [f"sim-{i:04d}" for i in range(1, count + 1)]


def _read_credentials(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if ":" in line:
            user, password = line.split(":", 1)
            out[user] = password
    return out


def _subject_alt_names(hosts: list[str]) -> str:
    names = []
    for host in hosts:
        try:
            ipaddress.ip_address(host)
            names.append(f"IP:{host}")
        except ValueError:
            names.append(f"DNS:{host}")
    return ",".join(names)


def make_tls(directory: Path, hosts: list[str], days: int) -> None:
    """A CA and a server certificate for *hosts* (EC P-256), signed by it, with ``openssl``."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl")
    directory.mkdir(parents=True, exist_ok=True)
    d = {name: str(directory / name) for name in (*TLS_FILES, "server.csr", "san.ext")}
    (directory / "san.ext").write_text(
        f"subjectAltName={_subject_alt_names(hosts)}\nextendedKeyUsage=serverAuth\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca = ["req", "-x509", *ec, "-days", str(days), "-keyout", d["ca.key"], "-out", d["ca.crt"]]
    csr = ["req", *ec, "-keyout", d["server.key"], "-out", d["server.csr"]]
    sign = ["x509", "-req", "-in", d["server.csr"], "-CA", d["ca.crt"], "-CAkey", d["ca.key"]]
    sign += ["-CAcreateserial", "-days", str(days), "-extfile", d["san.ext"]]
    steps = [
        [*ca, "-subj", "/CN=JagaJalan stack CA"],
        [*csr, "-subj", f"/CN={hosts[0]}"],
        [*sign, "-out", d["server.crt"]],
    ]
    for args in steps:
        subprocess.run([openssl, *args], check=True, capture_output=True)
    for name in ("server.csr", "san.ext", "ca.srl"):
        (directory / name).unlink(missing_ok=True)
    for name in TLS_FILES:
        (directory / name).chmod(MODE)
    (directory / "ca.key").chmod(0o600)
    directory.chmod(0o755)  # inside the private folder --dir


def init(
    directory: Path,
    hosts: list[str] | None = None,
    simulated: int = 2,
    days: int = 825,
    force: bool = False,
    acl_example: Path = ACL_EXAMPLE,
) -> list[Path]:
    """Makes every missing secret file under *directory*; returns the files written."""
    from registry.credentials import mosquitto_hash, new_password, with_entry

    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(DIR_MODE)
    made: list[Path] = []
    for name in PASSWORDS:
        _write(directory / name, secrets.token_urlsafe(24) + "\n", force, made)
    sims = directory / "simulated_gateways"
    lines = [f"{gw}:{new_password()}" for gw in simulated_ids(simulated)]
    _write(sims, "\n".join(lines) + "\n", force, made)
    users = {user: (directory / f).read_text().strip() for user, f in MQTT_USERS.items()}
    users.update(_read_credentials(sims))
    # Entries of other users (gateways added with `registry credentials`) stay as they are.
    passwd = directory / "mosquitto_passwd"
    text = passwd.read_text(encoding="utf-8") if passwd.exists() and not force else ""
    present = {line.split(":", 1)[0] for line in text.splitlines()}
    fresh = {p.name for p in made}
    changed = False
    for user, password in users.items():
        source = MQTT_USERS.get(user, sims.name)
        if user not in present or source in fresh:
            text = with_entry(text, user, mosquitto_hash(password))
            changed = True
    if changed:
        _write(passwd, text, True, made)
    _write(directory / "mosquitto_acl", acl_example.read_text(encoding="utf-8"), force, made)
    tls = directory / "tls"
    if force or not all((tls / name).exists() for name in TLS_FILES):
        make_tls(tls, hosts or DEFAULT_BROKER_HOSTS, days)
        made += [tls / name for name in TLS_FILES]
    return made


def cmd_init(args: argparse.Namespace) -> int:
    if not args.acl_example.is_file():
        print(tr("stack.no_acl", args.lang, path=args.acl_example), file=sys.stderr)
        return 2
    try:
        made = init(
            args.dir,
            args.broker_host,
            args.simulated_gateways,
            args.days,
            args.force,
            args.acl_example,
        )
    except RuntimeError:
        print(tr("stack.no_openssl", args.lang), file=sys.stderr)
        return 1
    for path in made:
        print(tr("stack.wrote", args.lang, path=path))
    print(tr("stack.done", args.lang, dir=args.dir, count=len(made)))
    return 0
