"""What the overview page (/peta) shows, read from the DOM Chromium rendered (``--dump-dom``).

The page writes each site's state as ``data-*`` attributes of its card (``<article
data-site=...>``) and of its map pin (``<div class="pin ..." data-site=...>``), and the chart's
as attributes of ``#chart``; :func:`read_overview` collects them with the text of each card,
so tests assert on the DOM, not on pixels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Card:
    attrs: dict[str, str]
    text: str = ""


@dataclass
class Overview:
    cards: dict[str, Card] = field(default_factory=dict)  # site id -> its card in the list
    pins: dict[str, str] = field(default_factory=dict)  # site id -> the pin's class
    chart: dict[str, str] = field(default_factory=dict)  # attributes of #chart
    canvases: int = 0  # <canvas> elements inside #chart (uPlot draws on one)
    tiles: int = 0  # map tiles (<img class="leaflet-tile ...">)
    problem: dict[str, str] | None = None  # attributes of #problem when shown
    problem_text: str = ""
    updated: str = ""  # the "as of" line
    body: dict[str, str] = field(default_factory=dict)


class _Reader(HTMLParser):
    VOID = frozenset({"br", "img", "input", "meta", "link", "hr", "source", "col", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.out = Overview()
        self.stack: list[tuple[str, str]] = []  # (tag, role) of open elements

    def _role(self) -> str:
        for _, role in reversed(self.stack):
            if role:
                return role
        return ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        classes = a.get("class", "").split()
        role = ""
        if tag == "article" and "data-site" in a:
            self.out.cards[a["data-site"]] = Card(a)
            role = "card:" + a["data-site"]
        elif tag == "div" and "pin" in classes and "data-site" in a:
            self.out.pins[a["data-site"]] = a.get("class", "")
        elif a.get("id") == "chart":
            self.out.chart = a
            role = "chart"
        elif a.get("id") == "problem":
            self.out.problem = None if "hidden" in a else a
            role = "problem"
        elif a.get("id") == "updated":
            role = "updated"
        elif tag == "body":
            self.out.body = a
        if tag == "canvas" and self._role() == "chart":
            self.out.canvases += 1
        if tag == "img" and "leaflet-tile" in classes:
            self.out.tiles += 1
        if tag not in self.VOID:
            self.stack.append((tag, role))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        role = self._role()
        if role.startswith("card:"):
            card = self.out.cards[role[5:]]
            card.text += data + " "
        elif role == "problem":
            self.out.problem_text += data + " "
        elif role == "updated":
            self.out.updated += data


def read_overview(dom: str) -> Overview:
    reader = _Reader()
    reader.feed(dom)
    return reader.out


def releases_shown(dom: str) -> list[tuple[dict[str, str], str]]:
    """The items of the page's software updates section: (data-* attributes, text)."""
    section = re.search(r'<section id="releases"[^>]*>(.*?)</section>', dom, re.S)
    assert section is not None, dom[:2000]
    items = re.findall(r'<li class="release ([^"]+)"([^>]*)>([^<]*)</li>', section.group(1))
    return [
        ({"class": cls, **dict(re.findall(r'data-([a-z]+)="([^"]*)"', attrs))}, text)
        for cls, attrs, text in items
    ]
