"""What ``jagajalan firmware rollout`` does (:mod:`.cli` parses): :func:`prepare` checks the
bundle, the key and the groups (nothing is sent); :func:`run` sends and follows, printing one
line per gateway and group (:class:`Progress`)."""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

from firmware_tools.rollout.plan import Group, Rollout
from kernel.text import T, TextError, tr


@dataclass(frozen=True)
class Prepared:
    version: str
    counter: int
    sha256: str
    key: Any  # SecretKey
    groups: list[Group]
    settings: Any  # RolloutSettings
    rollout_id: str


def say(key: str, lang: str, file: Any = None, **args: Any) -> None:
    print(tr(key, lang, **args), file=file or sys.stdout, flush=True)


def _bundle(args: argparse.Namespace, key: Any) -> tuple[Any, bytes]:
    from firmware_tools.bundle.manifest import ContainerError, parse_manifest, read_container
    from firmware_tools.bundle.verify import BundleError, verify_bundle

    try:
        data = args.bundle.read_bytes()
        manifest = parse_manifest(read_container(data)[0])
        verify_bundle(args.bundle, [key.public_key], manifest.target, None)
    except OSError as exc:
        raise TextError("rollout.err.bundle", path=str(args.bundle), detail=exc.strerror) from None
    except (ContainerError, ValueError) as exc:
        raise TextError("rollout.err.bundle", path=str(args.bundle), detail=str(exc)) from None
    except BundleError as exc:
        detail = exc.render(args.lang)
        raise TextError("rollout.err.bundle", path=str(args.bundle), detail=detail) from None
    return manifest, data


def _key(args: argparse.Namespace) -> Any:
    from firmware_tools.bundle.keys import read_secret_key, secret_key_text
    from firmware_tools.bundle.minisign import SecretKey
    from firmware_tools.bundle_cli import _password

    text = secret_key_text(args.secret_key)
    password = None
    if SecretKey.encrypted(text):
        password = _password(args.password_file, args.lang, confirm=False)
    return read_secret_key(text, password, args.secret_key)


def _groups(args: argparse.Namespace, settings: Any) -> list[Group]:
    from sqlalchemy.exc import SQLAlchemyError

    from firmware_tools.rollout.groups import UnknownGroup, groups_by_kecamatan
    from registry import db
    from registry.read import RegistryReader, RegistryUnavailable

    url = settings.database_url()
    where = url.render_as_string(hide_password=True)
    if settings.registry_url is None and not settings.registry_db.exists():
        raise TextError("rollout.err.reach_registry", url=where, reason="no such file")
    engine = db.engine_for(url)
    try:
        sites = RegistryReader(engine, cache_seconds=0).sites()
    except (RegistryUnavailable, SQLAlchemyError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise TextError("rollout.err.reach_registry", url=where, reason=reason) from None
    finally:
        engine.dispose()
    order = [k.strip() for k in args.order.split(",") if k.strip()]
    try:
        groups = groups_by_kecamatan(sites, order, args.pilot)
    except UnknownGroup as exc:
        raise TextError(f"rollout.err.unknown_{exc.kind}", names=", ".join(exc.names)) from None
    if not groups:
        raise TextError("rollout.err.no_gateways")
    return groups


def prepare(args: argparse.Namespace) -> Prepared:
    from firmware_tools.rollout.cli import rollout_id
    from firmware_tools.rollout.settings import RolloutSettings
    from kernel.settings import load

    settings = load(RolloutSettings, args, os.environ)  # SettingsError: exit 2 (jagajalan.cli)
    key = _key(args)
    manifest, data = _bundle(args, key)
    groups = _groups(args, settings)
    prepared = Prepared(
        version=manifest.version,
        counter=manifest.counter,
        sha256=hashlib.sha256(data).hexdigest(),
        key=key,
        groups=groups,
        settings=settings,
        rollout_id=args.rollout_id or rollout_id(manifest.version),
    )
    say(
        "rollout.plan",
        args.lang,
        rollout=prepared.rollout_id,
        version=manifest.version,
        counter=manifest.counter,
        target=manifest.target,
        gateways=sum(len(g.gateways) for g in groups),
        groups=len(groups),
        percent=f"{args.max_failures * 100:g}",
    )
    for n, group in enumerate(groups, 1):
        say(
            "rollout.plan_group",
            args.lang,
            n=n,
            name=group.name,
            gateways=", ".join(group.gateways),
        )
    return prepared


class Progress:
    """Prints what changed since the last call: a group started or finished, a gateway sent
    its command, updated or failed (the runner's ``watch``)."""

    def __init__(self, lang: str, deadline: float, on_group: Any = None) -> None:
        self.lang, self.deadline = lang, deadline
        self.on_group = on_group  # called with each group as it starts
        self.group = -1  # index of the group whose header was printed
        self.sent: set[str] = set()
        self.judged: set[str] = set()

    def __call__(self, runner: Any) -> None:
        rollout: Rollout = runner.rollout
        for gateway in rollout.sent:
            if gateway not in self.sent:
                self.sent.add(gateway)
                say("rollout.sent", self.lang, gateway=gateway)
        for gateway, outcome in rollout.outcome.items():
            if outcome != "pending" and gateway not in self.judged:
                self.judged.add(gateway)
                self._judged(gateway, outcome, rollout, runner.last_seen.get(gateway))
        index = rollout.current if rollout.state != "halted" else self.group
        while self.group < index:
            if self.group >= 0:
                self._group_done(rollout, rollout.groups[self.group])
            self.group += 1
            if self.group < len(rollout.groups):
                group = rollout.groups[self.group]
                total = len(rollout.groups)
                n, count = self.group + 1, len(group.gateways)
                say("rollout.group", self.lang, n=n, total=total, name=group.name, count=count)
                if self.on_group is not None:
                    self.on_group(group)

    def _judged(self, gateway: str, outcome: str, rollout: Rollout, seen: Any) -> None:
        if outcome == "updated":
            say("rollout.updated", self.lang, gateway=gateway, version=rollout.version)
            return
        result = seen.update_result if seen and seen.update_version == rollout.version else None
        if result in ("rolled_back", "aborted", "refused"):
            old = (seen.version if seen else None) or "-"
            say(f"rollout.failed.{result}", self.lang, gateway=gateway, old=old)
        else:
            say("rollout.failed.late", self.lang, gateway=gateway, deadline=f"{self.deadline:g}")

    def _group_done(self, rollout: Rollout, group: Group) -> None:
        updated = sum(rollout.outcome.get(g) == "updated" for g in group.gateways)
        failed = sum(rollout.outcome.get(g) == "failed" for g in group.gateways)
        say("rollout.group_done", self.lang, name=group.name, updated=updated, failed=failed)


def _client(prepared: Prepared) -> Any:
    from firmware_tools.rollout.cli import client_id
    from kernel.mqtt import Tls, new_client, parse_url

    settings = prepared.settings
    password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
    return new_client(
        client_id(settings.mqtt_username),
        "3.1.1" if settings.mqtt_protocol == "3.1.1" else "5",
        username=settings.mqtt_username,
        password=password,
        address=parse_url(settings.broker_url),
        tls=Tls(str(settings.ca_file)) if settings.ca_file else None,
    )


def run(prepared: Prepared, args: argparse.Namespace) -> int:
    from firmware_tools.rollout.cli import EXIT_HALTED, EXIT_OK, now_ms
    from firmware_tools.rollout.command import Command, encode
    from firmware_tools.rollout.runner import MqttRollout
    from firmware_tools.rollout.signing import signer
    from kernel.mqtt import parse_url

    lang = args.lang
    rollout = Rollout(
        prepared.version,
        prepared.groups,
        args.max_failures,
        args.deadline,
        rollout_id=prepared.rollout_id,
    )
    sign = signer(prepared.key)
    valid_ms = int(args.valid_hours * 3_600_000)

    def command_for(gateway: str) -> bytes:
        issued = now_ms()
        return encode(
            Command(
                gateway=gateway,
                version=prepared.version,
                counter=prepared.counter,
                bundle=args.bundle_url,
                sha256=prepared.sha256,
                rollout=prepared.rollout_id,
                issued=issued,
                expires=issued + valid_ms,
            ),
            sign,
        )

    def record(group: Group) -> None:
        """The group's desired version into the registry (GET /releases compares)."""
        from sqlalchemy.exc import SQLAlchemyError

        from registry import db
        from registry.desired import set_group

        engine = db.engine_for(prepared.settings.database_url())
        try:
            set_group(
                engine,
                group.name,
                group.gateways,
                version=prepared.version,
                counter=prepared.counter,
                rollout=prepared.rollout_id,
            )
        except SQLAlchemyError as exc:  # the rollout goes on; the record is what is lost
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            say("rollout.err.record", lang, sys.stderr, name=group.name, reason=reason)
        finally:
            engine.dispose()

    client = _client(prepared)
    progress = Progress(lang, args.deadline, on_group=record)
    runner = MqttRollout(rollout, client, command_for, watch=progress)
    url = prepared.settings.broker_url
    address = parse_url(url)
    try:
        client.connect(address.host, address.port)
    except OSError as exc:
        raise TextError("rollout.err.reach_broker", url=url, reason=str(exc)) from None
    client.loop_start()
    try:
        deadline = time.monotonic() + 15
        while not client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not client.is_connected():
            raise TextError("rollout.err.reach_broker", url=url, reason="no CONNACK in 15 s")
        try:
            state = runner.run(until=time.time() + args.timeout)
        except TimeoutError as exc:
            raise TextError("rollout.err.reach_broker", url=url, reason=str(exc)) from None
    finally:
        client.loop_stop()
        client.disconnect()
    counts = rollout.summary()
    if state == "done":
        say("rollout.done", lang, updated=counts["updated"], version=prepared.version)
        return EXIT_OK
    if state == "halted":
        group = rollout.groups[rollout.current]
        failed = sum(rollout.outcome.get(g) == "failed" for g in group.gateways)
        withdrawn = sum(o != "updated" for o in rollout.outcome.values())
        text = T(
            "rollout.halted",
            name=group.name,
            failed=failed,
            count=len(group.gateways),
            percent=f"{args.max_failures * 100:g}",
            withdrawn=withdrawn,
            not_sent=counts["not_sent"],
        )
        print(text.render(lang), file=sys.stderr, flush=True)
        return EXIT_HALTED
    say(
        "rollout.timeout",
        lang,
        sys.stderr,
        seconds=f"{args.timeout:g}",
        pending=counts["pending"],
        not_sent=counts["not_sent"],
    )
    return EXIT_HALTED
