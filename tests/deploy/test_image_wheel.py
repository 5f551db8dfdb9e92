"""The server image's Dockerfile, its build stage reproduced without Docker (no engine runs
here): the files its COPY lines name are copied into a fresh folder and its `pip wheel` line
is run there. The wheel must hold ingest's fast paths in C (built, since this machine has a
compiler, as the build stage's full Python image has), every package pyproject.toml lists,
and the final stage must install that wheel with the server's extras under the lock."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from testkit import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()


def stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined), stage by stage."""
    text = DOCKERFILE.replace("\\\n", " ")
    found: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("FROM "):
            found.append([])
        found[-1].append(line)
    return found


def test_the_image_is_built_in_two_stages_and_runs_from_the_slim_one() -> None:
    build, final = stages()
    assert build[0] == "FROM python:3.11 AS build"  # a compiler for the C fast paths
    assert final[0] == "FROM python:3.11-slim"
    assert "COPY --from=build /wheels /wheels" in final
    [install] = [i for i in final if i.startswith("RUN pip install")]
    assert '-c requirements.lock "$(ls /wheels/jagajalan-*.whl)[server]"' in install
    assert final[-2:] == ["USER jagajalan", 'ENTRYPOINT ["jagajalan"]']


def test_the_build_stage_makes_a_wheel_with_the_c_fast_paths_and_every_package(
    tmp_path: Path,
) -> None:
    build, _ = stages()
    src = tmp_path / "src"
    src.mkdir()
    for instruction in build:
        if instruction.startswith("COPY "):
            *sources, dest = shlex.split(instruction)[1:]
            for name in sources:
                target = src / name if dest == "./" else src / dest.removeprefix("./")
                if (REPO / name).is_dir():
                    shutil.copytree(
                        REPO / name, target, ignore=shutil.ignore_patterns("__pycache__", "*.so")
                    )
                else:
                    shutil.copy2(REPO / name, target)
    [run] = [i for i in build if i.startswith("RUN ")]
    argv = shlex.split(run)[1:]
    assert argv[:2] == ["pip", "wheel"] and argv[-3:] == ["-w", "/wheels", "."]
    wheels = tmp_path / "wheels"
    argv = [sys.executable, "-m", "pip", "wheel", "-q", *argv[2:-3], "-w", str(wheels), "."]
    done = subprocess.run(argv, cwd=src, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    [wheel] = wheels.glob("jagajalan-*.whl")
    assert "py3-none-any" not in wheel.name, wheel.name  # a platform wheel: it holds C
    names = zipfile.ZipFile(wheel).namelist()
    for module in ("_json_lines", "_compact_lines"):
        assert any(n.startswith(f"ingest/{module}.") and n.endswith(".so") for n in names), names
    packages = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
    for package in packages:
        assert f"{package.rstrip('*')}/__init__.py" in names, package
