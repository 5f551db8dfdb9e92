"""``jagajalan firmware keygen|package|verify``: signed firmware bundles.

- ``keygen`` makes a minisign key pair: the secret key (password-protected unless
  ``--no-password``; 0600; never inside a git work tree) under ~/.config/jagajalan/firmware-keys
  by default, the public key beside it, to copy to /etc/jagajalan/firmware-keys on gateways;
- ``package`` builds a signed bundle ``<out>`` + ``<out>.minisig`` from an image;
- ``verify`` checks a bundle (signature, target, expiry, anti-rollback counter) and, with
  ``--extract``, writes the image only after every check passed.

Exit codes: 0 done, 1 refused (a check failed), 2 a mistake in the options or files. Text in
Bahasa Indonesia, ``--lang en``. See docs/firmware.md.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def add_commands(actions: argparse._SubParsersAction) -> None:
    """``keygen``, ``package`` and ``verify`` under ``jagajalan firmware``."""
    from firmware_tools.paths import PUBLIC_KEY_DIR, SECRET_KEY_DIR
    from kernel.text import LANGS, default_lang

    def action(name: str, help_: str) -> argparse.ArgumentParser:
        p = actions.add_parser(
            name,
            help=help_,
            description=__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument("--lang", choices=LANGS, default=default_lang(), help="id or en")
        return p

    keygen = action("keygen", "make a signing key pair (secret key stays off the gateways)")
    keygen.add_argument("--name", default="jagajalan-firmware", help="file name without suffix")
    keygen.add_argument("--out", type=Path, default=SECRET_KEY_DIR, help="folder of the keys")
    keygen.add_argument("--password-file", type=Path, help="first line: the key's password")
    keygen.add_argument("--no-password", action="store_true", help="no password (not advised)")
    keygen.set_defaults(func=keygen_command)

    package = action("package", "build a signed bundle from a firmware image")
    package.add_argument("image", type=Path, help="the firmware image (.bin)")
    package.add_argument("--out", type=Path, required=True, help="the bundle (.jjfw)")
    package.add_argument("--secret-key", type=Path, required=True, help="minisign secret key")
    package.add_argument("--password-file", type=Path, help="first line: the key's password")
    package.add_argument("--target", required=True, help="hardware target, e.g. stm32f103-node")
    package.add_argument("--version", required=True, dest="fw_version", help="e.g. 1.4.0")
    package.add_argument("--counter", type=int, required=True, help="anti-rollback counter")
    package.add_argument("--valid-days", type=int, default=365, help="expiry (default 365)")
    package.add_argument("--description", default="", help="one line for the manifest")
    package.set_defaults(func=package_command)

    verify = action("verify", "check a signed bundle; --extract writes the image if valid")
    verify.add_argument("bundle", type=Path)
    verify.add_argument("--target", required=True, help="the hardware this is meant for")
    verify.add_argument("--installed-counter", type=int, default=None, help="refuse lower")
    verify.add_argument(
        "--key",
        type=Path,
        action="append",
        default=None,
        help=f"public key file or folder of *.pub (repeatable; default {PUBLIC_KEY_DIR})",
    )
    verify.add_argument("--signature", type=Path, default=None, help="default <bundle>.minisig")
    verify.add_argument("--at", default=None, help="check expiry at this ISO time (default now)")
    verify.add_argument("--extract", type=Path, default=None, help="write the image here")
    verify.set_defaults(func=verify_command)


def _say(text, lang, file=None) -> None:  # text: kernel.text.Text
    print(text.render(lang), file=file or sys.stdout)


def _password(path: Path | None, lang: str, *, confirm: bool) -> str:
    from kernel.text import T, TextError

    if path is not None:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise TextError("fw.key.unreadable", path=str(path), detail=str(exc)) from None
        return lines[0] if lines else ""
    if not sys.stdin.isatty():
        raise TextError("fw.key.no_password_tty")
    first = getpass.getpass("Kata sandi: " if lang == "id" else "Password: ")
    if confirm and getpass.getpass("Ulangi: " if lang == "id" else "Again: ") != first:
        _say(T("fw.key.password_mismatch"), lang, sys.stderr)
        raise SystemExit(EXIT_USAGE)
    return first


def _fail(exc: Exception, lang: str) -> int:
    from kernel.text import said

    print(said(exc).render(lang), file=sys.stderr)
    return EXIT_USAGE


def keygen_command(args: argparse.Namespace) -> int:
    from firmware_tools.bundle.keys import write_key_pair
    from firmware_tools.paths import PUBLIC_KEY_DIR
    from kernel.text import T, TextError

    secret = args.out / f"{args.name}.key"
    public = args.out / f"{args.name}.pub"
    try:
        password = (
            None if args.no_password else _password(args.password_file, args.lang, confirm=True)
        )
        write_key_pair(secret, public, password)
    except TextError as exc:
        return _fail(exc, args.lang)
    if password is None:
        _say(T("fw.key.unprotected"), args.lang, sys.stderr)
    _say(T("fw.key.created", secret=secret, public=public, where=PUBLIC_KEY_DIR), args.lang)
    return EXIT_OK


def package_command(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from firmware_tools.bundle.keys import read_secret_key, secret_key_text
    from firmware_tools.bundle.minisign import SecretKey
    from firmware_tools.bundle.package import make_manifest, write_bundle
    from kernel.text import T, TextError

    try:
        image = args.image.read_bytes()
    except OSError as exc:
        err = TextError("fw.check.unreadable", path=str(args.image), detail=exc.strerror)
        return _fail(err, args.lang)
    try:
        text = secret_key_text(args.secret_key)
        password = None
        if SecretKey.encrypted(text):
            password = _password(args.password_file, args.lang, confirm=False)
        key = read_secret_key(text, password, args.secret_key)
        manifest = make_manifest(
            image,
            args.image.name,
            target=args.target,
            version=args.fw_version,
            counter=args.counter,
            valid_for=timedelta(days=args.valid_days),
            description=args.description,
        )
    except TextError as exc:
        return _fail(exc, args.lang)
    except ValidationError as exc:
        error = exc.errors()[0]
        option = "--" + str(error["loc"][0]).replace("image", "image name")
        err = TextError(
            "fw.package.bad_option", option=option, value=error.get("input"), detail=error["msg"]
        )
        return _fail(err, args.lang)
    sig = write_bundle(args.out, manifest, image, key)
    _say(T("fw.package.done", path=args.out, signature=sig), args.lang)
    return EXIT_OK


def verify_command(args: argparse.Namespace) -> int:
    from firmware_tools.bundle.keys import load_public_keys
    from firmware_tools.bundle.verify import BundleError, describe, verify_bundle
    from firmware_tools.paths import PUBLIC_KEY_DIR
    from kernel.text import T, TextError

    paths = args.key or [PUBLIC_KEY_DIR]
    try:
        keys = load_public_keys(paths)
        if not keys:
            raise TextError("fw.verify.no_keys", paths=", ".join(map(str, paths)))
        now = datetime.fromisoformat(args.at) if args.at else datetime.now(UTC)
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
    except (TextError, ValueError) as exc:
        return _fail(exc, args.lang)
    try:
        bundle = verify_bundle(
            args.bundle, keys, args.target, args.installed_counter, now, args.signature
        )
    except BundleError as exc:
        print(exc.render(args.lang), file=sys.stderr)
        _say(T("fw.verify.refused"), args.lang, sys.stderr)
        return EXIT_REFUSED
    _say(describe(bundle), args.lang)
    if args.extract is not None:
        bundle.write_image(args.extract)
        _say(T("fw.verify.written", path=args.extract), args.lang)
    return EXIT_OK
