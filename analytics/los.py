"""Level of service (tingkat pelayanan): letters A..F from speed, delay or V/C. Pure.

Guarantees: pure functions (no I/O, no clock); every letter comes from a :class:`LosBands`
table that a caller may replace, checked once when it is built (bounds in order, letters
distinct); a negative or non-finite value is refused with a ValueError naming the view.

Views (../shared/DOMAIN.md):

- **Speed, road segments** (Permenhub PM 96/2015 Lampiran I, which revoked KM 14/2006, via a
  repository's legal digest): A >= 80 km/h, B >= 70, C >= 60, D >= 50, E >= 30 inter-urban
  (antarkota) or >= 10 urban (perkotaan) at near-capacity volume, F below (queues). Only the
  speed dimension of the regulation's descriptions is used.
- **Delay, junctions** (PM 96/2015): A < 5 s/veh, B <= 15, C <= 25, D <= 40, E <= 60, F above.
- **V/C** of revoked KM 14/2006 (arteri primer): A <= 0.20, B <= 0.45, C <= 0.70, D <= 0.85,
  E <= 1.00, F above (forced flow). Still common in reports and what the simulators use
  (``los_by_vc(ds)``); a separate, configurable view, not the regulation in force.
- PKJI 2023 itself defines no LOS classes: it reports DJ, vT and wT.
- Minimum LOS by road function (PM 96/2015): arteri/kolektor primer B, lokal primer C,
  arteri/kolektor sekunder C, lokal sekunder and lingkungan D.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from analytics._checks import non_negative

LETTERS: tuple[str, ...] = ("A", "B", "C", "D", "E", "F")


@dataclass(frozen=True)
class LosBands:
    """Letters with their bounds, best first; a value past every bound gets *beyond*.

    ``better="lower"`` (V/C, delay): a letter applies while value <= its bound.
    ``better="higher"`` (speed): a letter applies while value >= its bound.
    Letters in *strict* exclude their bound (junction A: delay < 5 s, so 5 s is B).
    """

    name: str
    bounds: tuple[tuple[str, float], ...]
    better: Literal["lower", "higher"]
    strict: frozenset[str] = field(default_factory=frozenset)
    beyond: str = "F"

    def __post_init__(self) -> None:
        letters = [letter for letter, _ in self.bounds] + [self.beyond]
        if len(set(letters)) != len(letters) or not self.bounds:
            raise ValueError(f"{self.name}: letters must be distinct, got {letters}")
        values = [non_negative(f"{self.name}: bound of {ltr}", b) for ltr, b in self.bounds]
        if self.better not in ("lower", "higher"):
            raise ValueError(f"{self.name}: better = {self.better!r}: use 'lower' or 'higher'")
        pairs = itertools.pairwise(values)
        if any((a >= b) if self.better == "lower" else (a <= b) for a, b in pairs):
            order = "rise" if self.better == "lower" else "fall"
            raise ValueError(f"{self.name}: bounds must {order} from A on, got {values}")
        if set(self.strict) - set(letters):
            raise ValueError(f"{self.name}: strict letters {sorted(self.strict)} not in bands")

    def letter(self, value: float) -> str:
        x = non_negative(self.name, value)
        for letter, bound in self.bounds:
            if x == bound:
                if letter not in self.strict:
                    return letter
            elif (x < bound) if self.better == "lower" else (x > bound):
                return letter
        return self.beyond

    def upper(self, letter: str) -> float | None:
        """The bound of *letter* (None for the letter past every bound)."""
        for ltr, bound in self.bounds:
            if ltr == letter:
                return bound
        if letter == self.beyond:
            return None
        raise ValueError(f"{self.name}: no level of service {letter!r}")


#: PM 96/2015, road segments between towns (antarkota): minimum speed per letter, km/h.
SPEED_ANTARKOTA = LosBands(
    "speed (km/h), PM 96/2015 antarkota",
    (("A", 80.0), ("B", 70.0), ("C", 60.0), ("D", 50.0), ("E", 30.0)),
    "higher",
)
#: PM 96/2015, urban road segments (perkotaan): E down to 10 km/h.
SPEED_PERKOTAAN = LosBands(
    "speed (km/h), PM 96/2015 perkotaan",
    (("A", 80.0), ("B", 70.0), ("C", 60.0), ("D", 50.0), ("E", 10.0)),
    "higher",
)
SPEED_BANDS: Mapping[str, LosBands] = {"antarkota": SPEED_ANTARKOTA, "perkotaan": SPEED_PERKOTAAN}
#: PM 96/2015, junctions: control delay, s/veh.
DELAY_PM96 = LosBands(
    "delay (s/veh), PM 96/2015",
    (("A", 5.0), ("B", 15.0), ("C", 25.0), ("D", 40.0), ("E", 60.0)),
    "lower",
    strict=frozenset({"A"}),
)
#: KM 14/2006 (revoked), arteri primer: volume as a share of capacity.
VC_KM14_2006 = LosBands(
    "V/C, KM 14/2006",
    (("A", 0.20), ("B", 0.45), ("C", 0.70), ("D", 0.85), ("E", 1.00)),
    "lower",
)
#: KM 14/2006 arteri primer: the speed (km/h) that goes with each V/C letter. Informative.
VC_KM14_2006_SPEED: Mapping[str, float] = {"A": 100, "B": 80, "C": 65, "D": 60, "E": 50}

#: PM 96/2015 minimum level of service by road function (fungsi jalan).
MINIMUM_LOS: Mapping[str, str] = {
    "arteri_primer": "B",
    "kolektor_primer": "B",
    "lokal_primer": "C",
    "arteri_sekunder": "C",
    "kolektor_sekunder": "C",
    "lokal_sekunder": "D",
    "lingkungan": "D",
}


def los_by_speed(
    speed_kmh: float,
    area: Literal["antarkota", "perkotaan"],
    bands: Mapping[str, LosBands] = SPEED_BANDS,
) -> str:
    """Segment level of service from travel speed (PM 96/2015)."""
    try:
        table = bands[area]
    except KeyError:
        raise ValueError(f"area {area!r}: use one of {sorted(bands)}") from None
    return table.letter(speed_kmh)


def los_by_delay(delay_s: float, bands: LosBands = DELAY_PM96) -> str:
    """Junction level of service from the mean delay per vehicle (PM 96/2015)."""
    return bands.letter(delay_s)


def los_by_vc(ratio: float, bands: LosBands = VC_KM14_2006) -> str:
    """The V/C view (KM 14/2006): the letter of volume / capacity (e.g. DJ)."""
    return bands.letter(ratio)


def meets_minimum(letter: str, road_function: str) -> bool:
    """True when *letter* is as good as PM 96/2015 asks of *road_function* or better."""
    if letter not in LETTERS:
        raise ValueError(f"level of service {letter!r}: use one of {list(LETTERS)}")
    try:
        minimum = MINIMUM_LOS[road_function]
    except KeyError:
        raise ValueError(
            f"road function {road_function!r}: use one of {sorted(MINIMUM_LOS)}"
        ) from None
    return LETTERS.index(letter) <= LETTERS.index(minimum)
