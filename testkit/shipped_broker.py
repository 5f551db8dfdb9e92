"""The shipped broker set-up run by a real Mosquitto 2.0: deploy/mosquitto/mosquitto.conf,
acl.example and the jagajalan_clientid plugin compiled by the shipped plugin/build.sh.

Only the listener address and the file paths are changed (and ``user root`` added when the
tests run as root, which Mosquitto otherwise refuses); every replaced text must be present in
the shipped file, so a renamed setting fails here instead of silently testing something else.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from testkit import REPO
from testkit.gateway import make_tls_files
from testkit.services import Mosquitto, free_port, require_binary

DEPLOY = REPO / "deploy" / "mosquitto"
PLUGIN_LINE = "plugin /mosquitto/plugins/jagajalan_clientid.so\n"
GATE_LINE = "plugin /mosquitto/plugins/jagajalan_ingest_gate.so\n"


def build_plugin(outdir: Path) -> Path:
    """Compile the plugins with deploy/mosquitto/plugin/build.sh into *outdir*; the client id
    plugin's path (the ingest gate's is beside it: :func:`gate_plugin`)."""
    script = DEPLOY / "plugin" / "build.sh"
    done = subprocess.run(["sh", str(script), str(outdir)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(
            f"{script} failed with exit code {done.returncode}: {done.stderr.strip()} "
            "(`make system-deps` installs gcc, mosquitto-dev and libmosquitto-dev)"
        )
    return outdir / "jagajalan_clientid.so"


def gate_plugin(plugin: Path) -> Path:
    return plugin.parent / "jagajalan_ingest_gate.so"


def _replace(text: str, old: str, new: str) -> str:
    if old not in text:
        raise AssertionError(
            f"deploy/mosquitto/mosquitto.conf no longer contains {old!r}; "
            "update testkit/shipped_broker.py"
        )
    return text.replace(old, new)


def install_certs(folder: Path) -> None:
    """A throw-away CA and server certificate for 127.0.0.1, under the names the shipped conf
    expects (ca.crt, server.crt, server.key)."""
    made = make_tls_files(folder / "made")
    folder.mkdir(parents=True, exist_ok=True)
    for src, dst in (
        ("ca.pem", "ca.crt"),
        ("server.pem", "server.crt"),
        ("server.key", "server.key"),
    ):
        (folder / dst).write_bytes(made[src].read_bytes())
    (folder / "server.key").chmod(0o600)


def write_passwords(path: Path, users: dict[str, str]) -> None:
    """(Re)write the password file *path* with *users* (name -> password)."""
    path.write_text("")
    for user, password in users.items():
        subprocess.run(
            [require_binary("mosquitto_passwd"), "-b", str(path), user, password],
            check=True,
            capture_output=True,
        )


def write_shipped_conf(
    workdir: Path,
    port: int,
    plugin: Path | None,
    plugin_options: str = "",
    tls_port: int = 0,
    gate_options: str = "",
) -> Path:
    """The shipped conf with its paths under *workdir* (TLS files in *workdir*/certs, made by
    :func:`install_certs`); *plugin* None drops the plugin lines (only to show what the client
    id plugin prevents). *plugin_options* go right after the client id plugin's line,
    *gate_options* after the ingest gate's."""
    conf = (DEPLOY / "mosquitto.conf").read_text()
    conf = _replace(conf, "listener 1883\n", f"listener {port} 127.0.0.1\n")
    conf = _replace(conf, "listener 8883\n", f"listener {tls_port or free_port()} 127.0.0.1\n")
    conf = _replace(conf, "/mosquitto/certs/", f"{workdir}/certs/")
    conf = _replace(conf, "/mosquitto/config/", f"{workdir}/")
    conf = _replace(conf, "/mosquitto/data/", f"{workdir}/")
    if plugin is None:
        conf = _replace(conf, PLUGIN_LINE, "")
        conf = _replace(conf, GATE_LINE, "")
    else:
        conf = _replace(conf, PLUGIN_LINE, f"plugin {plugin}\n{plugin_options}")
        conf = _replace(conf, GATE_LINE, f"plugin {gate_plugin(plugin)}\n{gate_options}")
    if os.geteuid() == 0:
        conf = "user root\n" + conf
    path = workdir / "mosquitto.conf"
    path.write_text(conf)
    return path


@contextlib.contextmanager
def shipped_broker(
    workdir: Path,
    users: dict[str, str],
    plugin: Path | None,
    plugin_options: str = "",
    gate_options: str = "",
) -> Iterator[Mosquitto]:
    """A running Mosquitto with the shipped conf, acl.example and a password file of *users*.

    Its log (the shipped ``log_dest stdout``) goes to the file ``Mosquitto.log``; Mosquitto
    buffers stdout, so read it after :meth:`Mosquitto.stop`.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port, tls_port = free_port(), free_port()
    install_certs(workdir / "certs")
    conf = write_shipped_conf(workdir, port, plugin, plugin_options, tls_port, gate_options)
    (workdir / "acl").write_text((DEPLOY / "acl.example").read_text())
    write_passwords(workdir / "passwd", users)
    broker = Mosquitto(port, workdir, conf)
    broker.tls_port = tls_port  # type: ignore[attr-defined]
    broker.ca_file = workdir / "certs" / "ca.crt"  # type: ignore[attr-defined]
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
