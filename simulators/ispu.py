"""ISPU (Indeks Standar Pencemar Udara), the Indonesian air-quality index. Pure functions.

Source: Permen LHK P.14/MENLHK/SETJEN/KUM.1/7/2020, breakpoints as published on the ministry's
ISPU page (../shared/DOMAIN.md; verify against the regulation's annex). The index of a
parameter is interpolated linearly inside its band::

    I = (Ia - Ib) / (Xa - Xb) * (Xx - Xb) + Ib

and a station reports the highest index of its parameters. Averaging periods (PM2.5 is
published hourly over a 24 h window) are the caller's business: these functions take a
concentration and return an index and a category.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Index values at the upper end of each band.
INDEX_STEPS: tuple[float, ...] = (50, 100, 200, 300, 500)

#: Upper breakpoints (µg/m³) for index 50 / 100 / 200 / 300 / 500.
BREAKPOINTS: dict[str, tuple[float, ...]] = {
    "pm25": (15.5, 55.4, 150.4, 250.4, 500.0),
    "pm10": (50.0, 150.0, 350.0, 420.0, 500.0),
    "so2": (52.0, 180.0, 400.0, 800.0, 1200.0),
    "co": (4000.0, 8000.0, 15000.0, 30000.0, 45000.0),
    "o3": (120.0, 235.0, 400.0, 800.0, 1000.0),
    "no2": (80.0, 200.0, 1130.0, 2260.0, 3000.0),
    "hc": (45.0, 100.0, 215.0, 432.0, 648.0),
}


@dataclass(frozen=True)
class Category:
    key: str  # machine name, e.g. "tidak_sehat"
    label_id: str  # Bahasa Indonesia, as published
    label_en: str
    colour: str
    upper: float  # highest index of the category (inclusive); inf for the last

    def label(self, lang: str = "id") -> str:
        return self.label_en if lang == "en" else self.label_id


CATEGORIES: tuple[Category, ...] = (
    Category("baik", "Baik", "Good", "green", 50),
    Category("sedang", "Sedang", "Moderate", "blue", 100),
    Category("tidak_sehat", "Tidak Sehat", "Unhealthy", "yellow", 200),
    Category("sangat_tidak_sehat", "Sangat Tidak Sehat", "Very unhealthy", "red", 300),
    Category("berbahaya", "Berbahaya", "Hazardous", "black", float("inf")),
)
CATEGORY_KEYS = tuple(c.key for c in CATEGORIES)


def ispu_index(parameter: str, concentration: float) -> float:
    """The ISPU sub-index of *parameter* (``pm25``, ``pm10``, ...) at *concentration* µg/m³.

    Values above the last breakpoint give 500 (the scale ends there); negative values are
    refused with a ValueError naming the parameter.
    """
    try:
        points = BREAKPOINTS[parameter]
    except KeyError:
        raise ValueError(
            f"no ISPU breakpoints for {parameter!r}; known: {sorted(BREAKPOINTS)}"
        ) from None
    if concentration < 0:
        raise ValueError(f"{parameter} concentration {concentration} is negative")
    low_x, low_i = 0.0, 0.0
    for high_x, high_i in zip(points, INDEX_STEPS, strict=True):
        if concentration <= high_x:
            return (high_i - low_i) / (high_x - low_x) * (concentration - low_x) + low_i
        low_x, low_i = high_x, high_i
    return INDEX_STEPS[-1]


def category(index: float) -> Category:
    """The category of an ISPU index: Baik up to 50, Sedang up to 100, and so on."""
    for cat in CATEGORIES:
        if index <= cat.upper:
            return cat
    return CATEGORIES[-1]


def category_of(parameter: str, concentration: float) -> Category:
    return category(ispu_index(parameter, concentration))


def rank(key: str) -> int:
    """Position of a category key in the scale (baik = 0 ... berbahaya = 4)."""
    try:
        return CATEGORY_KEYS.index(key)
    except ValueError:
        raise ValueError(f"unknown ISPU category {key!r}; known: {list(CATEGORY_KEYS)}") from None
