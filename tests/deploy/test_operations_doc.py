"""docs/operations.md says only what exists: every `jagajalan` command in it (in its shell blocks
and in its text) parses with jagajalan's own parser, every `docker compose` command names
services of docker-compose.yml (and what runs in the JagaJalan image parses too), every systemd
unit it enables is shipped in deploy/systemd, every file of the checkout it names exists, and it
covers what issue 13 asks: install, add a gateway, back up and restore InfluxDB and the
registry, upgrade, rotate a gateway's credentials."""

from __future__ import annotations

import re
import shlex

import yaml

from jagajalan.cli import build_parser
from testkit import REPO

DOC = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
SERVICES = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
UNITS = {p.name for p in (REPO / "deploy" / "systemd").iterdir()}
JAGAJALAN = ("jagajalan", "/opt/jagajalan/venv/bin/jagajalan")
#: Options of `docker compose run` that take a value.
RUN_VALUES = {"--user", "-v", "-e"}


def shell_lines() -> list[list[str]]:
    blocks = re.findall(r"^```sh\n(.*?)^```", DOC, re.MULTILINE | re.DOTALL)
    return [shlex.split(line) for block in blocks for line in block.splitlines() if line]


def without_sudo(words: list[str]) -> list[str]:
    if words[:1] == ["sudo"]:
        words = words[1:]
        if words[:1] == ["-u"]:
            words = words[2:]
    return words


def parses(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert callable(args.func), argv


def compose(words: list[str]) -> int:
    """Checks one `docker compose ...` command; returns how many jagajalan commands it held."""
    words = words[2:]
    while words[0] == "--profile":
        words = words[2:]
    action, rest = words[0], words[1:]
    if action in ("up", "ps", "build"):
        return 0
    if action == "cp":
        (service,) = [w.split(":", 1)[0] for w in rest if re.match(r"^[a-z-]+:/", w)]
        assert service in SERVICES
        return 0
    while rest[0].startswith("-"):
        rest = rest[2:] if rest[0] in RUN_VALUES or rest[0] == "-s" else rest[1:]
    service, argv = rest[0], rest[1:]
    assert service in SERVICES, service
    if action == "run" and argv and SERVICES[service].get("build") == ".":
        parses(argv)
        return 1
    return 0


def test_every_command_in_the_shell_blocks_exists() -> None:
    checked = {"jagajalan": 0, "compose": 0, "systemctl": 0}
    for words in map(without_sudo, shell_lines()):
        for word in words:
            if word.startswith("/opt/jagajalan/src/") and "[" not in word:
                assert (REPO / word.removeprefix("/opt/jagajalan/src/")).exists(), word
        if words[0] in JAGAJALAN:
            parses(words[1:])
            checked["jagajalan"] += 1
        elif words[:2] == ["docker", "compose"]:
            checked["jagajalan"] += compose(words)
            checked["compose"] += 1
        elif words[0] == "systemctl" and words[1] not in ("daemon-reload",):
            for unit in (w for w in words[2:] if not w.startswith("-")):
                name = re.sub(r"@[^.]+", "@", unit)
                name = name if "." in name else f"{name}.service"
                assert name in UNITS, unit
                checked["systemctl"] += 1
    assert checked["jagajalan"] >= 8 and checked["compose"] >= 10 and checked["systemctl"] >= 6


def test_every_jagajalan_command_in_the_text_exists() -> None:
    inline = re.findall(r"`(jagajalan [a-z][^`]*)`", DOC)
    assert len(inline) >= 4
    for command in inline:
        parses(shlex.split(command)[1:])


def test_the_manual_covers_what_the_issue_asks() -> None:
    headings = re.findall(r"^#+ (.*)$", DOC, re.MULTILINE)
    for topic in (
        "Install on a Debian server",
        "Add a gateway",
        "InfluxDB",
        "The registry (PostgreSQL)",
        "Upgrade",
        "Rotate a gateway's credentials",
    ):
        assert any(topic in h for h in headings), topic
    assert "influxd backup -portable" in DOC and "influxd restore -portable" in DOC
    assert "pg_dump" in DOC and "pg_restore" in DOC


def test_the_checker_catches_a_wrong_command() -> None:
    try:
        parses(["registry", "credentials", "gw", "--mosquitto-password", "x"])
    except SystemExit:
        return
    raise AssertionError("an unknown option parsed")
