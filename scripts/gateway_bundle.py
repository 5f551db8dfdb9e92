"""Build an offline install bundle for a roadside gateway: ``make gateway-bundle ARCH=...``.

Run on a machine with internet (the office laptop); copy the tarball to the gateway by USB stick
or scp and install it there without any network (docs/gateway-install.md, section 3):

    dist/jagajalan-gateway-<version>-<arch>.tar.gz
      jagajalan-gateway-<version>-<arch>/
        install.sh      creates /opt/jagajalan/venv from wheels/ alone, copies src/
        wheels/         JagaJalan and the gateway's dependencies (pyproject's dependencies, not
                        the [server] extra), each at its requirements.lock version, built for
                        CPython 3.11 (Debian 12 / Raspberry Pi OS bookworm) on <arch>
        src/            the repository's tracked files: config examples, the systemd unit, docs

Architectures: ``aarch64`` (64-bit Raspberry Pi OS, Debian arm64), ``armv7l`` (32-bit Raspberry
Pi OS, armhf) and ``x86_64`` (a small PC). PyPI has no armv7l wheel of msgpack; for armv7l the
bundle carries msgpack built without its C extension (its own pure-Python fallback, which the
gateway's few readings a second do not notice), so the gateway needs no compiler. Nor has PyPI
an armv7l wheel of cffi, which cryptography needs: pyproject.toml leaves cryptography out there
with an environment marker, and such a gateway checks firmware signatures with the ``minisign``
tool instead (firmware_tools/bundle/backends.py).

pip evaluates environment markers for the machine it runs on, whatever ``--platform`` says, so
this script evaluates the markers of pyproject's dependencies for the target architecture itself
and downloads those. ``install.sh`` then installs exactly the bundled wheels (``--no-deps``): on
32-bit Raspberry Pi OS with a 64-bit kernel, pip on the gateway would read ``platform_machine``
as ``aarch64`` and ask for a cryptography wheel the armv7l bundle rightly does not hold.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON_VERSION = "3.11"  # Debian 12 and Raspberry Pi OS bookworm
GLIBC_MINOR = 36  # bookworm's glibc 2.36: the newest manylinux a wheel may need
ARCHES = ("aarch64", "armv7l", "x86_64")

#: Dependencies with no wheel on PyPI for an architecture: built here from the source
#: distribution with these environment variables (which must give a pure-Python wheel).
SOURCE_BUILDS: dict[str, dict[str, dict[str, str]]] = {
    "armv7l": {"msgpack": {"MSGPACK_PUREPYTHON": "1"}},
}

INSTALL_SH = """#!/bin/sh
# Install this JagaJalan gateway bundle without network: sudo sh install.sh [PREFIX]
# (PREFIX defaults to /opt/jagajalan). Needs python3.11 and python3.11-venv (Debian packages).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=${1:-/opt/jagajalan}
python3.11 -m venv --clear "$prefix/venv"   # an update replaces the old venv whole
# exactly the bundled wheels, resolved when the bundle was made (scripts/gateway_bundle.py)
"$prefix/venv/bin/pip" install --no-index --no-deps "$here"/wheels/*.whl
rm -rf "$prefix/src"
cp -R "$here/src" "$prefix/src"
"$prefix/venv/bin/jagajalan" --version
echo "installed in $prefix/venv; next: docs/gateway-install.md, section 4"
"""


def platforms(arch: str) -> list[str]:
    """pip's --platform values for a bookworm gateway on *arch*, newest first."""
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(GLIBC_MINOR, 16, -1)]
    return [*tags, f"manylinux2014_{arch}", f"linux_{arch}"]


def dependencies(arch: str) -> list[str]:
    """pyproject's dependencies that apply on *arch* (their markers evaluated for it)."""
    from packaging.requirements import Requirement

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = []
    for text in project["dependencies"]:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate({"platform_machine": arch}):
            req.marker = None
            wanted.append(str(req))
    return wanted


def locked(name: str) -> str:
    """The ``name==version`` line of *name* in requirements.lock."""
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line.split("==")[0].strip().lower().replace("_", "-") == name:
            return line.strip()
    raise SystemExit(f"error: {name} is not pinned in requirements.lock")


def pip(*args: str, env: dict[str, str] | None = None) -> None:
    cmd = [sys.executable, "-m", "pip", *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise SystemExit(
            f"error: pip failed ({' '.join(args[:2])} ...):\n{tail}\n"
            "A dependency without a wheel for this architecture on the package index shows as "
            "'No matching distribution'; see docs/gateway-install.md (32-bit Raspberry Pi OS)."
        )


def source_files() -> list[str]:
    """The repository's tracked files (as they are in the work tree)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"error: make the bundle from a git checkout: {exc}") from None
    return [f for f in out.decode().split("\0") if f and (REPO / f).is_file()]


def build(arch: str, out_dir: Path) -> Path:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    name = f"jagajalan-gateway-{version}-{arch}"
    with tempfile.TemporaryDirectory() as tmp:
        top = Path(tmp) / name
        wheels = top / "wheels"
        wheels.mkdir(parents=True)
        for rel in source_files():
            dest = top / "src" / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dest)
        # the wheel is built from a copy of exactly these files (pip builds in the tree it gets)
        build_tree = shutil.copytree(top / "src", Path(tmp) / "build")
        # a pure wheel, for any architecture: no compiled ingest fast paths (setup.py)
        pure = {**os.environ, "JAGAJALAN_PURE": "1"}
        pip("wheel", "--no-deps", "-q", "-w", str(wheels), str(build_tree), env=pure)
        for dep, env in SOURCE_BUILDS.get(arch, {}).items():
            pip(
                *("wheel", "--no-deps", "-q", "--no-binary", dep, "-w", str(wheels)),
                locked(dep),
                env={**os.environ, **env},
            )
        target = [f"--platform={p}" for p in platforms(arch)]
        target += [f"--python-version={PYTHON_VERSION}", "--implementation=cp", "--abi=cp311"]
        pip(
            *("download", "-q", "--only-binary=:all:", *target),
            *("-c", str(REPO / "requirements.lock"), "--find-links", str(wheels)),
            *("-d", str(wheels), *dependencies(arch)),
        )
        script = top / "install.sh"
        script.write_text(INSTALL_SH)
        script.chmod(0o755)
        out_dir.mkdir(parents=True, exist_ok=True)
        bundle = out_dir / f"{name}.tar.gz"
        with tarfile.open(bundle, "w:gz") as tar:
            tar.add(top, arcname=name)
    return bundle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Build an offline install bundle (source + wheels) for a JagaJalan gateway."
    )
    parser.add_argument(
        "--arch",
        choices=ARCHES,
        default="aarch64",
        help="the gateway's architecture (`uname -m` on it; 32-bit Raspberry Pi OS: armv7l)",
    )
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="folder for the tarball")
    args = parser.parse_args(argv)
    bundle = build(args.arch, args.out)
    size = bundle.stat().st_size / 1e6
    print(f"{bundle} ({size:.1f} MB): copy it to the gateway, then")
    print(f"  tar xzf {bundle.name} && sudo sh {bundle.name.removesuffix('.tar.gz')}/install.sh")
    return 0


if __name__ == "__main__":
    sys.exit(main())
