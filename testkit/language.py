"""A language judge: is a text people read in one language only?

- **Bahasa Indonesia**: no English word may appear. A word is English when it is in Debian's
  word list ``/usr/share/dict/american-english`` (package ``wamerican``, installed by
  scripts/install-system-deps.sh), lower-case entries only (capitalised entries are names),
  and not in :data:`SHARED`.
- **English**: no Indonesian function word (:data:`INDONESIAN`) may appear in lower case
  (capitalised words are names: Pasar Sarolangun, ISPU Tidak Sehat).

Technical tokens are allowed in both and removed before judging: code spans in backticks,
paths and URLs, dotted or underscored keys (``mqtt.url``, ``max_readings``), anything with a
digit, words in capitals (``PUBACK``, ``ACL``, ``CRC``), hyphenated ids (``srl-pasar-01``),
command-line options, query parameters, command lines after ``$``, and lines that are a
``jagajalan`` command to copy (as the demo prints them, ``.venv/bin/jagajalan ...``).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

WORDLIST = Path("/usr/share/dict/american-english")

#: Words the English word list holds that are also ordinary Bahasa Indonesia, or technical
#: terms an Indonesian technician uses as they are. Kept short: every entry is a reason.
#: Components whose command lines the demo and the docs print for people to copy.
COMMANDS = (
    "gateway",
    "simulate",
    "demo",
    "api",
    "ingest",
    "store",
    "registry",
    "analytics",
    "config",
)

SHARED = frozenset(
    {
        # Indonesian words that happen to be English words too (different meaning or loans)
        "data",  # data (loan, standard KBBI)
        "status",  # status (KBBI)
        "unit",  # unit (KBBI; a Modbus unit address)
        "sensor",  # sensor (KBBI)
        "port",  # port (serial port; KBBI "porta" is not used in the field)
        "modem",  # modem (KBBI)
        "internet",  # internet (KBBI)
        "program",  # program (KBBI)
        "grup",  # grup (KBBI, "group")
        "normal",  # normal (KBBI)
        "total",  # total (KBBI)
        "global",
        "disk",  # disk (KBBI "disket/cakram" is not what technicians say)
        "spool",  # the gateway's on-disk queue: a component name
        "broker",  # the MQTT broker: a component name
        "gateway",  # the product's component name
        "login",  # login (KBBI)
        "driver",  # a device driver: a component name
        "baud",  # the unit of the serial line speed
        "parity",  # a serial line setting, as printed on the device's label
        "heartbeat",  # the traffic counter's own name for its keep-alive record
        "profil",  # profil (KBBI "profile"); the list has it as a rare English word
        "publish",  # the MQTT operation's name
        "register",  # a Modbus register (KBBI has "register" too)
        "checksum",  # the NMEA sentence's own term
        "offset",  # a Modbus profile key's name
        "scale",  # a Modbus profile key's name
        "word",  # Modbus "word order", the profile key's term
        "twisted",  # "twisted pair", the cable's trade name
        "pair",
        "dashboard",  # the dashboard: a component name
        "demo",  # demo (KBBI); `make demo`
        "basis",  # "basis data", KBBI's word for database
        "parameter",  # parameter (KBBI)
        "swagger",  # Swagger UI, a product name
        "server",  # server (KBBI)
        "skenario",
        "seed",  # the scenario's random seed: an option's name
        "firmware",  # a node's firmware (KBBI "perangkat tegar" is not what technicians say)
        "flash",  # the microcontroller's flash memory, as technicians say it
        # Indonesian words the list holds as rare English words
        "jam",  # hour, clock
        "lama",  # long (time), old
        "lain",  # other
        "air",  # water
        "paling",  # most
        "sore",  # afternoon
        "motor",  # sepeda motor, motorcycle
        "bus",  # bus (KBBI); the RS-485 bus
        "serial",  # serial (KBBI); the serial line
        # IT loanwords in everyday Indonesian use (KBBI lists admin, log, format, valid, mode)
        "admin",
        "log",
        "format",
        "valid",
        "mode",
        "firewall",
        # unit symbols
        "ms",
        "cm",
    }
)

#: Indonesian function words and common verbs that never belong in an English sentence.
INDONESIAN = frozenset(
    [
        "yang",
        "dan",
        "di",
        "ke",
        "dari",
        "untuk",
        "dengan",
        "tidak",
        "belum",
        "sudah",
        "atau",
        "ini",
        "itu",
        "ada",
        "pada",
        "dalam",
        "akan",
        "bisa",
        "lalu",
        "karena",
        "jika",
        "kalau",
        "saat",
        "oleh",
        "sebagai",
        "tapi",
        "tetapi",
        "juga",
        "masih",
        "harus",
        "sedang",
        "tanpa",
        "setelah",
        "sebelum",
        "agar",
        "supaya",
        "atas",
        "bawah",
        "dulu",
        "lagi",
        "hanya",
        "semua",
        "setiap",
        "tiap",
        "kosong",
        "bukan",
        "menunggu",
        "berjalan",
        "tertua",
        "dibuang",
        "dilewati",
        "lulus",
        "gagal",
        "peringatan",
        "periksa",
        "jalankan",
        "perangkat",
        "detik",
        "menit",
        "jam",
        "hari",
        "kabel",
        "hujan",
        "air",
        "jalan",
    ]
)

_TECHNICAL = [
    re.compile(r"`[^`]*`"),  # code spans: commands, keys, values
    re.compile(r"(?<![A-Za-z])'[^'\n]*'"),  # a config value as Python shows it: 'red'
    re.compile(r"\$ .*$", re.M),  # a command line
    # a line that is a jagajalan command to copy: .venv/bin/jagajalan simulate devices ...
    re.compile(rf"^[ \t]*(?:\S*/)?jagajalan (?:{'|'.join(COMMANDS)}) .*$", re.M),
    re.compile(r"(?<!\w)--?[a-z][a-z0-9-]*"),  # command-line options: --units, -h
    re.compile(r"\b[a-z][a-z0-9+.-]*://\S+"),  # URLs
    re.compile(r"[?&]\w+=\S*"),  # query parameters: ?start=
    re.compile(r"\b\w+=\S+"),  # a reading as field=value: humidity=75 (no dot to mark it)
    re.compile(r"(?<![\w])[~.]?/[^\s,;:()]+"),  # paths
    re.compile(r"\b\S*[_./]\S*\w\b"),  # dotted or underscored keys, file names, ids a.b/c_d
    re.compile(r"\b\w+-\w+(?:-\w+)*\b"),  # hyphenated ids such as srl-tembesi-01, pm-th-generic
    re.compile(r"\b\w*\d\w*\b"),  # anything with a digit: numbers, units such as 9600, 5s, ttyUSB0
    re.compile(r"\b[A-Z][A-Z0-9]*\b"),  # capitals: PUBACK, ACL, CRC, NTP, TLS, WIB; N, E, O
]

_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")


@functools.cache
def english_words() -> frozenset[str]:
    """The lower-case words of Debian's American English list (without possessives)."""
    words = WORDLIST.read_text(encoding="utf-8", errors="replace").split()
    return frozenset(w for w in words if w.islower() and "'" not in w)


def words(text: str, lower: bool = True) -> list[str]:
    """The plain words of *text*, technical tokens removed (lower-cased unless *lower* is
    false)."""
    for pattern in _TECHNICAL:
        text = pattern.sub(" ", text)
    return [w.lower() if lower else w for w in _WORD.findall(text)]


def english_in(text: str, allowed: frozenset[str] = frozenset()) -> list[str]:
    """The English words in a text meant to be Bahasa Indonesia."""
    dictionary = english_words()
    return [w for w in words(text) if w in dictionary and w not in SHARED and w not in allowed]


def indonesian_in(text: str, allowed: frozenset[str] = frozenset()) -> list[str]:
    """The Indonesian function words in a text meant to be English. Capitalised words are
    names and are not judged: places (Pasar Sarolangun), official categories (ISPU Tidak
    Sehat); an Indonesian sentence still shows itself by its lower-case function words."""
    return [w for w in words(text, lower=False) if w in INDONESIAN and w not in allowed]


def judge(text: str, lang: str, allowed: frozenset[str] = frozenset()) -> list[str]:
    """The words of the other language in *text* (empty: one language only)."""
    return english_in(text, allowed) if lang == "id" else indonesian_in(text, allowed)
