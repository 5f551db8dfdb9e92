"""Property: every change to a signed bundle, or to the signed parts of its signature, is
refused before anything could be written; and a correctly signed bundle for another target,
past its expiry or with a lower counter is refused with that check's code. With both signature
checkers: cryptography, and the minisign tool (fewer examples: each one starts the tool)."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_tools.bundle import BundleError, Check, SecretKey, verify_bundle
from tests.firmware_tools.bundles import NOW, TARGET, make_bundle

KEY = SecretKey.generate()
FOLDER = Path(tempfile.mkdtemp(prefix="jj-bundle-"))
MADE = make_bundle(FOLDER, key=KEY)
DATA = MADE.path.read_bytes()
SIG = MADE.signature.read_text()


@st.composite
def mutated(draw, original: bytes) -> bytes:
    """A different byte string: flipped bits, a cut, an insertion or bytes appended."""
    kind = draw(st.sampled_from(["flip", "cut", "insert", "append", "replace"]))
    n = len(original)
    if kind == "flip":
        i = draw(st.integers(0, n - 1))
        bit = draw(st.integers(0, 7))
        return original[:i] + bytes([original[i] ^ (1 << bit)]) + original[i + 1 :]
    if kind == "cut":
        i = draw(st.integers(0, n - 1))
        j = draw(st.integers(i + 1, min(n, i + 600)))
        return original[:i] + original[j:]
    if kind == "insert":
        i = draw(st.integers(0, n))
        return original[:i] + draw(st.binary(min_size=1, max_size=64)) + original[i:]
    if kind == "append":
        return original + draw(st.binary(min_size=1, max_size=1024))
    i = draw(st.integers(0, n - 1))
    new = draw(st.binary(min_size=1, max_size=32))
    out = original[:i] + new + original[i + len(new) :]
    return out if out != original else original[:i] + bytes([original[i] ^ 1]) + original[i + 1 :]


def check(folder: Path, data: bytes, sig: str, **kw) -> Check:
    bundle = folder / "m.jjfw"
    bundle.write_bytes(data)
    (folder / "m.jjfw.minisig").write_text(sig)
    args = {
        "public_keys": [KEY.public_key],
        "target": TARGET,
        "installed_counter": 7,
        "now": NOW,
    } | kw
    with pytest.raises(BundleError) as info:
        verify_bundle(bundle, **args)
    return info.value.check


#: Examples per property and checker: the minisign tool costs a process start (~4 ms) each.
EXAMPLES = {"cryptography": 300, "minisign": 100}


def examples(verifier: str, scale: float = 1.0) -> settings:
    return settings(max_examples=int(EXAMPLES[verifier] * scale), deadline=None)


def test_every_mutation_of_the_bundle_is_refused(tmp_path: Path, verifier: str) -> None:
    @examples(verifier)
    @given(data=mutated(DATA))
    def run(data: bytes) -> None:
        got = check(tmp_path, data, SIG, verifier=verifier)
        assert got in {Check.SIGNATURE, Check.UNREADABLE}

    run()


#: The signed lines of the .minisig (the untrusted comment, line 1, is not signed by design).
SIGNED = "\n".join(SIG.splitlines()[1:]).encode()
HEAD = SIG.splitlines()[0] + "\n"


def test_every_mutation_of_the_signature_is_refused(tmp_path: Path, verifier: str) -> None:
    @examples(verifier)
    @given(signed=mutated(SIGNED))
    def run(signed: bytes) -> None:
        text = HEAD + signed.decode("utf-8", errors="replace") + "\n"
        assert check(tmp_path, DATA, text, verifier=verifier) in {
            Check.SIGNATURE_FORMAT,
            Check.UNKNOWN_KEY,
            Check.SIGNATURE,
            Check.TRUSTED_COMMENT,
        }

    run()


def test_signed_but_wrong_bundles_name_the_failed_check(tmp_path: Path, verifier: str) -> None:
    @examples(verifier, scale=40 / 300)
    @given(
        target=st.from_regex(r"\A[a-z0-9][a-z0-9-]{0,20}\Z").filter(lambda t: t != TARGET),
        counter=st.integers(0, 6),
        days=st.integers(1, 400),
    )
    def run(target: str, counter: int, days: int) -> None:
        other = make_bundle(tmp_path, key=KEY, target=target, valid_for=timedelta(days=days))
        data, sig = other.path.read_bytes(), other.signature.read_text()
        assert check(tmp_path, data, sig, verifier=verifier) is Check.TARGET
        late = NOW + timedelta(days=days, seconds=1)
        old = make_bundle(tmp_path, key=KEY, counter=counter, valid_for=timedelta(days=days))
        data, sig = old.path.read_bytes(), old.signature.read_text()
        expired = check(tmp_path, data, sig, now=late, installed_counter=0, verifier=verifier)
        assert expired is Check.EXPIRED
        lower = check(tmp_path, data, sig, installed_counter=counter + 1, verifier=verifier)
        assert lower is Check.DOWNGRADE

    run()
