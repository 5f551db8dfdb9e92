"""The packages as an install lays them out, and ``jagajalan api run`` from that build.

:func:`build_packages` copies the files git knows (no egg-info left by an editable install,
whose file list setuptools would reuse) and runs setuptools' ``build_py`` into a folder, as a
wheel would lay it out: only what pyproject.toml ships (package data included) is there.
:func:`built_api` runs the API from such a build, never from the source tree, so a page that
loads a file the package does not ship fails there as it would after ``pip install``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from testkit import REPO, children
from testkit.services import free_port, wait_port


def build_packages(src: Path, out: Path) -> Path:
    """Copy the repository's files into *src*, build them into *out*; returns *out*."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    setup = "from setuptools import setup; setup()"
    subprocess.run(
        [sys.executable, "-c", setup, "-q", "build_py", "--build-lib", str(out)],
        cwd=src,
        check=True,
        capture_output=True,
    )
    return out


@contextlib.contextmanager
def built_api(built: Path, workdir: Path, args: Sequence[str] = ()) -> Iterator[str]:
    """``jagajalan api run *args*`` from the build *built* on a free port (SQLite store in
    *workdir* unless *args* name one); yields its base URL, stops it afterwards."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAGAJALAN_")}
    env |= {"JAGAJALAN_PORT": str(port)}
    if "--sqlite" not in args:
        env["JAGAJALAN_SQLITE"] = str(workdir / "store.sqlite")
    boot = (
        "import sys; sys.path.insert(0, sys.argv.pop(1)); import api;"
        "assert api.__file__.startswith(sys.path[0]), api.__file__;"
        "from jagajalan.cli import main; sys.exit(main())"
    )
    log_path = workdir / "api.log"
    with log_path.open("wb") as log:
        proc = children.start(
            [sys.executable, "-c", boot, str(built), "api", "run", *args],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            try:
                wait_port(port, timeout=30, proc=proc)
            except (RuntimeError, TimeoutError) as exc:
                raise RuntimeError(f"{exc}: {log_path.read_text()}") from None
            yield f"http://127.0.0.1:{port}"
        finally:
            children.stop(proc, timeout=15)
