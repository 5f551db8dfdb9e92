"""Field values as line protocol writes them (:func:`telemetry.mapping.format_float`), for a
column of values at once: each printed by one msgspec call, or, for the compact encoding's
running decimals, looked up among the texts already printed.

A decimal ``n`` with ``k`` decimals stands for the float ``n / 10**k``, always the same, so
for the same text; a sensor's readings stay near each other at a fixed resolution, so a
worker sees the same ``n`` again and again, and finding its text in a dict (an int key: one
C loop for the column) costs about a quarter of dividing and printing it. The texts are kept
per ``k`` by ``n``; a table starts over past :data:`MAX_KNOWN` values (a few MB at most).
A column whose values are mostly new (a noisy sensor at a fine resolution) would pay for the
look-up and the keeping on top of the printing, so such a column is printed directly for
its next :data:`SKIP` batches before it is looked up again. Floats sent as themselves are
not kept (they are the values that are no short decimals: rarely seen twice, and a float's
hash costs about what printing it does).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from itertools import repeat
from operator import truediv

import msgspec

MAX_KNOWN = 100_000
MAX_DECIMALS = 9
SKIP = 64

_DECIMALS: list[dict[int, str]] = [{} for _ in range(MAX_DECIMALS + 1)]
_SKIPPING: dict[Hashable, int] = {}  # column -> batches it is still printed directly
_POW10 = [10**k for k in range(MAX_DECIMALS + 1)]
_ENCODE = msgspec.json.Encoder().encode


def float_texts(values: Sequence[float]) -> list[str]:
    """The texts of finite floats (ValueError for a NaN or an infinity, never ``null``)."""
    if not all(map(math.isfinite, values)):
        raise ValueError("a field value is not a finite number")
    return _ENCODE(values).decode()[1:-1].split(",")


def decimal_texts(ns: Sequence[int], k: int, column: Hashable) -> list[str]:
    """The texts of the floats ``n / 10**k`` of a *column* (any key naming it, for the
    choice above); OverflowError for a value too large for a float."""
    skip = _SKIPPING.get(column)
    if skip:
        _SKIPPING[column] = skip - 1
        return float_texts(list(map(truediv, ns, repeat(_POW10[k]))))
    known = _DECIMALS[k]
    texts = list(map(known.get, ns))
    if None in texts:
        missing = texts.count(None)
        texts = float_texts(list(map(truediv, ns, repeat(_POW10[k]))))
        if len(known) > MAX_KNOWN:
            known.clear()
        known.update(zip(ns, texts))  # noqa: B905
        if 2 * missing > len(texts) and len(known) > len(texts):  # mostly new, not a start
            if len(_SKIPPING) > MAX_KNOWN:
                _SKIPPING.clear()
            _SKIPPING[column] = SKIP
    return texts
