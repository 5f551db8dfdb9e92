"""Every message of the catalogue, rendered with sample arguments, is in one language only:
the Bahasa Indonesia text holds no English word (Debian's word list, minus the short
allow-list in testkit/language.py), the English text no Indonesian function word."""

from __future__ import annotations

import pytest

from kernel.text import CATALOGUE, placeholders
from testkit.language import SHARED, english_in, english_words, indonesian_in, judge

#: Sample arguments: technical tokens (numbers, paths), which are allowed in both languages.
SAMPLE = "/dev/ttyUSB0"
#: Messages deliberately in the other language: a link that switches the page's language
#: names the target language in that language ("This page in English" on the Indonesian page).
OTHER_LANGUAGE = frozenset({"api.index.other_lang"})


def sample(template: str) -> dict[str, str]:
    return {name: SAMPLE for name in placeholders(template)}


@pytest.mark.parametrize("key", sorted(CATALOGUE))
def test_every_message_is_in_one_language(key: str) -> None:
    indonesian, english = CATALOGUE[key]
    if key in OTHER_LANGUAGE:
        indonesian, english = english, indonesian
    shown_id = indonesian.format(**sample(indonesian))
    shown_en = english.format(**sample(english))
    assert not judge(shown_id, "id"), f"{key}: English in the Indonesian text: {shown_id}"
    assert not judge(shown_en, "en"), f"{key}: Indonesian in the English text: {shown_en}"


def test_the_judge_catches_mixed_sentences() -> None:
    """The very sentence of issue 10: an Indonesian sentence with an English fragment."""
    mixed = "Sensor tidak menjawab: no answer (unit 7, 3 tries)"
    assert english_in(mixed) == ["no", "answer", "tries"]
    assert not english_in("Sensor tidak menjawab dalam 3 detik (unit 7, `/dev/ttyUSB0`)")
    assert indonesian_in("Check the cable dan the port") == ["dan"]
    assert not indonesian_in("PM2.5 at the market reaches Tidak Sehat")  # a category's name
    assert not indonesian_in("Serial port /dev/ttyUSB0 not found")
    # technical tokens are allowed in both: paths, code spans, keys, capitals, numbers
    assert not english_in("Periksa `serial.baudrate = 9600` di /etc/jagajalan/gateway.toml (CRC)")


def test_the_word_list_is_real_and_the_allow_list_short() -> None:
    assert len(english_words()) > 50_000
    assert {"answer", "the", "check", "found"} <= english_words()
    assert len(SHARED) <= 60


def test_a_command_to_copy_is_technical_but_a_sentence_is_judged() -> None:
    """The demo prints whole `jagajalan` command lines to copy; they are not sentences."""
    shown = "Coba di jendela lain:\n  .venv/bin/jagajalan simulate devices --dir var/sim\n"
    assert not english_in(shown)
    assert english_in("  jagajalan is running\n") == ["is", "running"]
    assert english_in("Coba di jendela lain: simulate devices") == ["simulate", "devices"]
