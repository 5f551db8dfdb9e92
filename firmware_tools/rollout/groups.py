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
    """A pilot gateway or a kecamatan that the registry does not know (names it)."""


def groups_by_kecamatan(
    sites: Iterable[SiteRecord], order: Sequence[str] = (), pilot: Sequence[str] = ()
) -> list[Group]:
    by_kecamatan: dict[str, list[str]] = {}
    for site in sites:
        by_kecamatan.setdefault(site.kecamatan, []).extend(g.id for g in site.gateways)
    known = {g for gateways in by_kecamatan.values() for g in gateways}
    missing = [g for g in pilot if g not in known]
    if missing:
        raise UnknownGroup(f"pilot gateways not in the registry: {', '.join(missing)}")
    unknown = [k for k in order if k not in by_kecamatan]
    if unknown:
        raise UnknownGroup(f"kecamatan without gateways in the registry: {', '.join(unknown)}")
    groups = [Group("pilot", tuple(sorted(pilot)))] if pilot else []
    rest = sorted(k for k in by_kecamatan if k not in order)
    for kecamatan in [*order, *rest]:
        gateways = tuple(sorted(g for g in by_kecamatan[kecamatan] if g not in pilot))
        if gateways:
            groups.append(Group(kecamatan, gateways))
    return groups
