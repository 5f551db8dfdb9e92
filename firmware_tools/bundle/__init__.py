"""Signed firmware bundles, in a format the stock ``minisign`` tool verifies.

A bundle is two files, ``<name>.jjfw`` and ``<name>.jjfw.minisig``:

- ``<name>.jjfw``: an uncompressed tar of ``manifest.json`` (first) and the image. The
  manifest (:class:`Manifest`) names the hardware ``target``, the ``version``, a monotonic
  anti-rollback ``counter``, ``created``/``expires`` (UTC), the image's file name, ``size``
  and ``sha256``;
- ``<name>.jjfw.minisig``: minisign's signature of the whole ``.jjfw`` file (Ed25519 over its
  BLAKE2b-512, algorithm ``ED``) with a trusted comment summarising the manifest. Anyone can
  check it with ``minisign -Vm <name>.jjfw -p key.pub``; a bundle signed with
  ``minisign -Sm <name>.jjfw`` is accepted as well (its trusted comment is not relied on).

API for the flashing and update tools (nothing is written before every check passed)::

    from firmware_tools.bundle import BundleError, Check, load_public_keys, verify_bundle

    keys = load_public_keys([Path("/etc/jagajalan/firmware-keys")])
    try:
        bundle = verify_bundle(path, keys, target="stm32f103-node", installed_counter=7)
    except BundleError as exc:
        exc.check          # Check.SIGNATURE, Check.TARGET, Check.EXPIRED, Check.DOWNGRADE, ...
        exc.render("id")   # "[target] ..." for the technician, in Bahasa Indonesia or English
    else:
        bundle.manifest    # Manifest: target, version, counter, expires, sha256, ...
        bundle.image       # the image bytes, read once (the bytes that were verified)
        bundle.write_image(dest)   # or hand bundle.image to the flasher

``verify_bundle(path, public_keys, target, installed_counter, now=None, signature=None,
verifier=None)`` runs the checks in this order and raises :class:`BundleError` at the first that
fails: ``no_verifier`` (neither cryptography nor the ``minisign`` tool is installed; where only
the tool is, as on 32-bit ARM gateways, it checks the signatures: :mod:`.backends`),
``unreadable``, ``signature_format``, ``unknown_key``, ``signature`` (tampered),
``trusted_comment``, ``container``, ``manifest``, ``image_hash``, ``target``, ``expired``,
``downgrade`` (``counter < installed_counter``; an equal counter is accepted so that the
same release can be flashed again). Building: :func:`make_manifest` + :func:`write_bundle`.
Keys: :func:`write_key_pair`, :func:`load_public_keys`; see :mod:`.keys`.
"""

from firmware_tools.bundle.keys import load_public_keys, write_key_pair
from firmware_tools.bundle.manifest import FORMAT, Manifest
from firmware_tools.bundle.minisign import MinisignError, PublicKey, SecretKey, Signature
from firmware_tools.bundle.package import make_manifest, sign_bundle, write_bundle
from firmware_tools.bundle.verify import (
    BundleError,
    Check,
    VerifiedBundle,
    signature_path,
    verify_bundle,
)
from firmware_tools.paths import PUBLIC_KEY_DIR, SECRET_KEY_DIR

__all__ = [
    "FORMAT",
    "PUBLIC_KEY_DIR",
    "SECRET_KEY_DIR",
    "BundleError",
    "Check",
    "Manifest",
    "MinisignError",
    "PublicKey",
    "SecretKey",
    "Signature",
    "VerifiedBundle",
    "load_public_keys",
    "make_manifest",
    "sign_bundle",
    "signature_path",
    "verify_bundle",
    "write_bundle",
    "write_key_pair",
]
