"""The rollout's groups from the registry: pilot gateways first, then the gateways of each
kecamatan in the order given, then those of the kecamatan not named (alphabetical), each group
sorted by gateway id. Pure: it takes the registry's site records
(:meth:`registry.read.RegistryReader.sites`), so the caller decides where they come from.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from firmware_tools.rollout.plan import Group
from registry.read import SiteRecord


class UnknownGroup(ValueError):
    """A pilot gateway or a kecamatan that the registry does not know (names it): ``kind`` is
    ``pilot`` or ``kecamatan``, ``names`` the unknown ones."""

    def __init__(self, kind: str, names: list[str], text: str) -> None:
        super().__init__(text)
        self.kind, self.names = kind, names


def groups_by_kecamatan(
    sites: Iterable[SiteRecord], order: Sequence[str] = (), pilot: Sequence[str] = ()
) -> list[Group]:
    by_kecamatan: dict[str, list[str]] = {}
    for site in sites:
        by_kecamatan.setdefault(site.kecamatan, []).extend(g.id for g in site.gateways)
    known = {g for gateways in by_kecamatan.values() for g in gateways}
    missing = [g for g in pilot if g not in known]
    if missing:
        text = f"pilot gateways not in the registry: {', '.join(missing)}"
        raise UnknownGroup("pilot", missing, text)
    unknown = [k for k in order if k not in by_kecamatan]
    if unknown:
        text = f"kecamatan without gateways in the registry: {', '.join(unknown)}"
        raise UnknownGroup("kecamatan", unknown, text)
    groups = [Group("pilot", tuple(sorted(pilot)))] if pilot else []
    rest = sorted(k for k in by_kecamatan if k not in order)
    for kecamatan in [*order, *rest]:
        gateways = tuple(sorted(g for g in by_kecamatan[kecamatan] if g not in pilot))
        if gateways:
            groups.append(Group(kecamatan, gateways))
    return groups
