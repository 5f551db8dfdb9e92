"""``jagajalan firmware gateway-update``: install a signed gateway release, from the network's
download or a USB stick, with a health check and automatic rollback (docs/firmware.md,
"Pembaruan gateway").

- ``--from FILE|FOLDER`` verifies the bundle (signature, target, expiry, anti-rollback counter)
  before writing anything, installs it as ``<root>/releases/<version>``, switches, restarts the
  gateway and waits for its health file; on failure it goes back to the previous release.
  A folder (a USB stick's mount point) must hold exactly one ``*.jjfw`` bundle.
- ``--recover`` finishes or undoes an update cut short (the boot unit runs it with ``--boot``,
  before the gateway starts: no restart then).
- ``--command FILE`` applies a desired-version command the gateway received on its ``cmd``
  topic and wrote to FILE (docs/protocol.md, 1.1; the path unit
  deploy/systemd/jagajalan-gateway-command@.path starts it): the command's signature, gateway
  and expiry are checked, a command already applied (its version runs, or was rolled back here)
  is not applied again, and the bundle it names (a path, or an http(s) URL downloaded to
  ``<root>/downloads``) must have the command's SHA-256 before the normal verified update.
- ``--status`` prints what runs and how the last update ended.

Every command or bundle it finishes with (installed, rolled back, refused, not downloaded, not
installed) is also written to ``update-result.json`` beside the command file (else beside the
health file), which the gateway reports in its status (outcome_file.py, kernel/update_result.py).

Exit codes: 0 done (or nothing to do), 1 refused or rolled back, 2 a mistake in the options.
Runs as root (it writes /opt/jagajalan and restarts the gateway's unit).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEBIAN_ARCH = {"aarch64": "arm64", "armv7l": "armhf", "x86_64": "amd64"}
BUNDLE_SUFFIX = ".jjfw"


def default_target() -> str:
    machine = platform.machine()
    return f"gateway-{DEBIAN_ARCH.get(machine, machine)}"


def add_commands(actions: argparse._SubParsersAction) -> None:
    from kernel.text import LANGS, default_lang

    p = actions.add_parser(
        "gateway-update",
        help="install a signed gateway release (network or USB stick), roll back if unhealthy",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--from", dest="source", type=Path, help="bundle file or USB folder")
    what.add_argument("--command", type=Path, help="a desired-version command (cmd topic)")
    what.add_argument("--recover", action="store_true", help="finish an interrupted update")
    what.add_argument("--status", action="store_true", help="what runs, the last update")
    p.add_argument("--boot", action="store_true", help="with --recover: do not restart")
    p.add_argument("--root", type=Path, default=Path("/opt/jagajalan"), help="install root")
    p.add_argument(
        "--config",
        type=Path,
        default=Path("/etc/jagajalan/gateway.toml"),
        help="the gateway's config (finds its health file)",
    )
    p.add_argument("--gateway", help="with --command: this gateway's id (default: --config's)")
    p.add_argument("--health-file", type=Path, help="default: beside the gateway's spool")
    p.add_argument(
        "--offline",
        action="store_true",
        help="no network here: healthy once it runs (publishing is not checked)",
    )
    p.add_argument("--timeout", type=float, default=120.0, help="health check, seconds")
    p.add_argument("--unit", default="jagajalan-gateway.service", help="the gateway's unit")
    p.add_argument(
        "--keys", type=Path, default=Path("/etc/jagajalan/firmware-keys"), help="public keys"
    )
    p.add_argument("--target", default=default_target(), help="hardware target of this gateway")
    p.add_argument("--lang", choices=LANGS, default=default_lang(), help="id or en")
    p.set_defaults(func=command, verifier_factory=None, service_factory=None)


def find_bundle(source: Path) -> Path:
    """*source* itself, or the one bundle in the folder *source*."""
    from firmware_tools.gateway_update.updater import UpdateError

    if not source.is_dir():
        return source
    found = sorted(source.glob(f"*{BUNDLE_SUFFIX}"))
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "-"
        raise UpdateError("update.no_bundle", f"{source}|{names}")
    return found[0]


def public_keys(args: argparse.Namespace) -> list:
    """The firmware public keys in ``--keys`` (UpdateError when there are none)."""
    from firmware_tools.gateway_update.updater import UpdateError

    try:
        from firmware_tools.bundle.keys import load_public_keys
    except ImportError as exc:
        raise UpdateError("update.no_verifier", str(exc)) from None
    try:
        keys = load_public_keys(sorted(args.keys.glob("*.pub")))
    except ValueError as exc:  # a key file that is no minisign public key (names the file)
        raise UpdateError("update.bad_keys", str(exc)) from None
    if not keys:
        raise UpdateError("update.no_keys", str(args.keys))
    return keys


def signed_verifier(args: argparse.Namespace, installed_counter: int | None):
    """The signed bundle's checks (firmware_tools.bundle), with this gateway's keys and target."""
    from firmware_tools.gateway_update.updater import UpdateError

    try:
        from firmware_tools.bundle.verify import BundleError, verify_bundle
    except ImportError as exc:
        raise UpdateError("update.no_verifier", str(exc)) from None
    keys = public_keys(args)

    def verify(path: Path):
        try:
            return verify_bundle(path, keys, args.target, installed_counter)
        except BundleError as exc:
            raise UpdateError("update.refused", exc.render(args.lang)) from None

    return verify


def command(args: argparse.Namespace) -> int:
    """One updater at a time per install root (a lock file), then :func:`run`."""
    import fcntl

    args.root.mkdir(parents=True, exist_ok=True)
    with open(args.root / "update.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the kernel drops it when the process dies
        return run(args)


def run(args: argparse.Namespace) -> int:
    from firmware_tools.gateway_update import outcome_file, report
    from firmware_tools.gateway_update.checks import HealthFile, SystemdService
    from firmware_tools.gateway_update.layout import Layout
    from firmware_tools.gateway_update.updater import (
        UpdateError,
        manifest_version,
        recover,
        update,
    )
    from kernel.alive import HealthFileUnknown, health_file_of

    lang = args.lang
    layout = Layout(args.root)
    service = (args.service_factory or SystemdService)(args.unit)
    if args.status:
        print(report.status(layout, lang))
        return EXIT_OK
    if args.recover:
        journal = recover(layout, service, restart=not args.boot)
        print(report.recovered(layout, journal, lang))
        return EXIT_OK
    # The outcome file goes beside the command the gateway wrote, else beside its health file.
    folder = args.command.parent if args.command is not None else None
    version, rollout = outcome_file.claimed(args.command) if folder else ("", "")
    try:
        health_file = args.health_file or health_file_of(args.config)
    except HealthFileUnknown as exc:
        print(report.problem("update.no_health_file", str(exc), lang), file=sys.stderr)
        outcome_file.of_error(folder, "update.no_health_file", str(exc), version, rollout)
        return EXIT_USAGE
    folder = folder or health_file.parent
    try:
        if args.command is not None:
            found = commanded_bundle(args, layout)
            if found is None:
                return EXIT_OK
            bundle, wanted = found
        else:
            bundle, wanted = find_bundle(args.source), None
        make = args.verifier_factory or signed_verifier
        verified = make(args, layout.installed_counter())(bundle)
        version = version or manifest_version(verified)
        if wanted is not None and manifest_version(verified) != wanted:
            raise UpdateError("update.command_version", f"{wanted} != {manifest_version(verified)}")
    except UpdateError as exc:
        print(report.problem(exc.key, exc.detail, lang), file=sys.stderr)
        outcome_file.of_error(folder, exc.key, exc.detail, version, rollout)
        usage = ("update.no_bundle", "update.no_keys", "update.bad_keys", "update.no_gateway_id")
        return EXIT_USAGE if exc.key in usage else EXIT_FAILED
    check = HealthFile(
        health_file, require="running" if args.offline else "published", timeout=args.timeout
    )
    try:
        outcome = update(
            verified,
            layout=layout,
            service=service,
            health=check,
            clock=time.time,
            step=report.progress(verified, bundle, args.timeout, lang),
        )
    except UpdateError as exc:
        print(report.problem(exc.key, exc.detail, lang), file=sys.stderr)
        outcome_file.of_error(folder, exc.key, exc.detail, version, rollout)
        return EXIT_FAILED
    outcome_file.of_outcome(folder, outcome, version, rollout)
    text = report.outcome(outcome, lang)
    ok = outcome.result in ("committed", "unchanged")
    print(text, file=sys.stdout if ok else sys.stderr)
    return EXIT_OK if ok else EXIT_FAILED


def commanded_bundle(args: argparse.Namespace, layout) -> tuple[Path, str] | None:
    """The bundle and version of ``--command FILE``; None (said why) when already applied."""
    from firmware_tools.gateway_update import commanded
    from kernel.text import tr

    gateway = args.gateway or commanded.gateway_id_of(args.config)
    command = commanded.read_command(args.command, gateway, public_keys(args))
    applied = commanded.already_applied(layout, command)
    if applied is not None:
        print(tr(f"update.command_{applied}", args.lang, version=command.version))
        return None
    print(tr("update.command_ok", args.lang, version=command.version, rollout=command.rollout))
    return commanded.locate_bundle(command, layout), command.version
