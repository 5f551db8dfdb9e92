"""The two locks and pyproject.toml agree: requirements.lock pins exactly what runs (the gateway's
dependencies, the [server] and [esp32] extras, with everything they pull in), requirements-dev.lock
exactly what `.[dev]` adds, each package in one lock only, at the version installed here.

The closures are computed from the installed packages' own metadata, as pip resolves them
(markers and extras included), so a new dependency of a dependency shows up here.
"""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, distribution

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from jagajalan.cli import SERVER_MODULES
from testkit import REPO

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
EXTRAS = PROJECT["optional-dependencies"]


def read_lock(name: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for number, raw in enumerate((REPO / name).read_text().splitlines(), 1):
        line = raw.split("#")[0].strip()
        if not line:
            continue
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==", f"{name}:{number}: {line!r} is not an exact pin"
        key = canonicalize_name(req.name)
        assert key not in pins, f"{name}:{number}: {req.name} pinned twice"
        pins[key] = spec.version
    return pins


RUNTIME = read_lock("requirements.lock")
DEV = read_lock("requirements-dev.lock")


def closure(requirements: list[str], machine: str | None = None) -> set[str]:
    """Every distribution that *requirements* pull in here (project names, canonical); with
    *machine*, what they pull in on that ``platform_machine`` (their markers evaluated for it;
    without, every top-level requirement counts: the locks serve every architecture)."""
    env = {"platform_machine": machine} if machine else {}
    extras_of: dict[str, set[str]] = {}
    todo = [Requirement(r) for r in requirements]
    todo = [r for r in todo if not env or r.marker is None or r.marker.evaluate(env)]
    while todo:
        req = todo.pop()
        key = canonicalize_name(req.name)
        known = extras_of.get(key)
        if known is not None and set(req.extras) <= known:
            continue
        extras_of[key] = (known or set()) | set(req.extras)
        if key == "jagajalan":  # the self-reference of the dev extra
            todo += [Requirement(r) for e in req.extras for r in EXTRAS[e]]
            continue
        for text in distribution(req.name).requires or []:
            dep = Requirement(text)
            wanted = [{**env, "extra": e} for e in extras_of[key]] or [{**env, "extra": ""}]
            if dep.marker is None or any(dep.marker.evaluate(env) for env in wanted):
                todo.append(dep)
    extras_of.pop("jagajalan", None)
    return set(extras_of)


def test_every_pinned_package_is_in_exactly_one_lock() -> None:
    assert not set(RUNTIME) & set(DEV), "in both locks"


def test_pyproject_pins_match_the_locks() -> None:
    groups = (
        ("dependencies", RUNTIME),
        ("server", RUNTIME),
        ("esp32", RUNTIME),
        ("dev", RUNTIME | DEV),
    )
    for group, lock in groups:
        reqs = PROJECT["dependencies"] if group == "dependencies" else EXTRAS[group]
        for text in reqs:
            req = Requirement(text)
            if req.name == "jagajalan":
                continue
            (spec,) = req.specifier
            assert spec.operator == "==", f"pyproject {group}: {text} is not an exact pin"
            key = canonicalize_name(req.name)
            assert lock.get(key) == spec.version, (
                f"pyproject {group}: {text}, lock: {lock.get(key)}"
            )
    # dev tools never reach requirements.lock's consumers (the gateway, the Docker image)
    dev_only = {canonicalize_name(Requirement(r).name) for r in EXTRAS["dev"]} - set(RUNTIME)
    assert dev_only - {"jagajalan"} <= set(DEV)


def test_the_locks_are_exactly_what_the_extras_pull_in() -> None:
    runtime = closure([*PROJECT["dependencies"], *EXTRAS["server"], *EXTRAS["esp32"]])
    everything = closure(["jagajalan[dev]"])
    assert set(RUNTIME) == runtime, (
        f"requirements.lock lacks {sorted(runtime - set(RUNTIME))}, "
        f"pins what nothing needs {sorted(set(RUNTIME) - runtime)}"
    )
    assert set(DEV) == everything - runtime, (
        f"requirements-dev.lock lacks {sorted(everything - runtime - set(DEV))}, "
        f"pins what is not dev-only {sorted(set(DEV) - (everything - runtime))}"
    )


def test_installed_versions_are_the_pinned_ones() -> None:
    wrong = {}
    for name, version in (RUNTIME | DEV).items():
        try:
            installed = distribution(name).version
        except PackageNotFoundError:
            installed = None
        if installed != version:
            wrong[name] = (version, installed)
    assert not wrong, f"pinned vs installed (run make install): {wrong}"


def test_the_gateway_set_has_no_server_or_test_package() -> None:
    gateway = closure(PROJECT["dependencies"])
    server = {canonicalize_name(Requirement(r).name) for r in EXTRAS["server"]}
    tools = {"pytest", "hypothesis", "ruff", "import-linter", "pyyaml"}
    assert not gateway & (server | tools)
    assert gateway == {
        *("pyserial", "pymodbus", "paho-mqtt", "pydantic", "pydantic-core", "annotated-types"),
        *("typing-extensions", "typing-inspection", "rich", "markdown-it-py", "mdurl"),
        *("pygments", "pynmea2", "msgpack"),
        # the gateway flashes its STM32 sensor nodes (firmware_tools/flash)
        *("stm32loader", "progress"),
        # firmware bundles' Ed25519 signatures (firmware_tools/bundle/): a gateway verifies
        *("cryptography", "cffi", "pycparser"),
    }
    # no cffi wheel for 32-bit ARM: the minisign tool checks signatures there instead
    armv7l = closure(PROJECT["dependencies"], machine="armv7l")
    assert armv7l == gateway - {"cryptography", "cffi", "pycparser"}


def top_level_modules(name: str) -> set[str]:
    files = distribution(name).files or []
    tops = {f.parts[0].removesuffix(".py") for f in files if f.suffix in (".py", ".so")}
    # <name>.libs: the shared libraries a manylinux wheel vendors (numpy.libs), not a module
    skip = (".dist-info", ".data", ".libs")
    return {t for t in tops if not t.endswith(skip) and t != "__pycache__"}


def test_the_cli_knows_the_modules_of_the_server_extra() -> None:
    """`jagajalan ingest|api|...` on a gateway install says which extra is missing; it knows
    the extra by these module names."""
    server = {Requirement(r).name for r in EXTRAS["server"]}
    modules = set().union(*(top_level_modules(name) for name in server))
    assert modules == SERVER_MODULES
