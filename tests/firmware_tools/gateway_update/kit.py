"""Test releases, a test verifier and a process supervisor for the gateway updater's tests.

What is faked, and why: the bundle's signature (the payloads here are unsigned tar files,
accepted by :class:`TarVerifier`; the signed bundle's own tests cover verification), the
release's content (its ``install.sh`` installs one small Python script as
``venv/bin/jagajalan`` instead of a venv from wheels: same layout, milliseconds instead of a
minute) and systemd (:class:`Supervisor` restarts ``<root>/venv/bin/jagajalan gateway run``,
the path the shipped unit names, as ``systemctl restart`` would). The fake gateway writes the
health file as the real one does (tests/gateway/runtime/test_alive.py checks the real one).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from testkit import children

GATEWAY = """#!{python}
import json, os, sys, time
VERSION, BEHAVIOUR = {version!r}, {behaviour!r}
if sys.argv[1:] == ["--version"]:
    print("jagajalan", VERSION)
    sys.exit(0)
if BEHAVIOUR == "crash":
    sys.exit(3)
path = os.environ["JAGAJALAN_TEST_HEALTH_FILE"]
started = time.time()
def put(phase):
    record = dict(version=VERSION, pid=os.getpid(), started=started, phase=phase, time=time.time())
    with open(path + ".tmp", "w") as out:
        json.dump(record, out)
    os.replace(path + ".tmp", path)
put("running")
if BEHAVIOUR == "ok":
    put("published")
while True:
    time.sleep(3600)
"""

INSTALL = """#!/bin/sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=$1
{fail}
mkdir -p "$prefix/venv/bin" "$prefix/src"
cp "$here/jagajalan" "$prefix/venv/bin/jagajalan"
chmod 755 "$prefix/venv/bin/jagajalan"
"$prefix/venv/bin/jagajalan" --version
"""


def release_image(version: str, behaviour: str = "ok", *, install_fails: bool = False) -> bytes:
    """A gateway bundle image like `make gateway-bundle`'s: one folder with install.sh.

    behaviour: ``ok`` (starts, publishes), ``silent`` (starts, never reaches the broker),
    ``crash`` (exits at once)."""
    top = f"jagajalan-gateway-{version}-x86_64"
    files = {
        "install.sh": INSTALL.format(
            fail="echo 'no space left' >&2; exit 1" if install_fails else ""
        ),
        "jagajalan": GATEWAY.format(python=sys.executable, version=version, behaviour=behaviour),
        "src/README.md": f"release {version}\n",
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def write_payload(
    folder: Path, version: str, behaviour: str = "ok", suffix: str = ".tar.gz", **kw
) -> Path:
    path = folder / f"jagajalan-gateway-{version}{suffix}"
    path.write_bytes(release_image(version, behaviour, **kw))
    return path


@dataclass
class Unsigned:
    manifest: dict
    image: bytes


def tar_verifier(path: Path) -> Unsigned:
    """Accepts an unsigned payload; the version comes from its name (no manifest, no signature)."""
    match = re.fullmatch(r"jagajalan-gateway-(.+)\.(?:tar\.gz|jjfw)", path.name)
    assert match, path
    return Unsigned({"version": match.group(1)}, path.read_bytes())


class Supervisor:
    """``systemctl restart`` for the tests: one gateway process from ``<root>/venv``, whose pid
    is kept in a file beside the health file, so a supervisor in a later process (run_cli.py)
    stops the gateway an earlier one started, as systemd would."""

    def __init__(self, root: Path, health_file: Path, *, own_group: bool = True) -> None:
        self.root = root
        self.health_file = health_file
        self.pid_file = health_file.with_name("gateway.pid")
        self.own_group = own_group  # False: dies with the updater's process group
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def restart(self) -> None:
        self.stop()
        entry = self.root / "venv" / "bin" / "jagajalan"
        env = {**os.environ, "JAGAJALAN_TEST_HEALTH_FILE": str(self.health_file)}
        args = [str(entry), "gateway", "run"]
        if self.own_group:
            self.proc = children.start(args, env=env)
        else:
            self.proc = subprocess.Popen(args, env=env)
        self.pid_file.write_text(str(self.proc.pid))
        self.starts += 1

    def stop(self) -> None:
        if self.proc is not None:
            if self.own_group:
                children.stop(self.proc, timeout=5)
            else:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        else:
            kill_pid_file(self.pid_file)


def kill_pid_file(pid_file: Path) -> None:
    """Stop the gateway another process started (its pid in *pid_file*)."""
    with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
        os.kill(int(pid_file.read_text()), signal.SIGKILL)


def runs(root: Path) -> str:
    """The version ``<root>/venv/bin/jagajalan --version`` answers (what the unit would run)."""
    done = subprocess.run(
        [str(root / "venv" / "bin" / "jagajalan"), "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.split()[-1]
