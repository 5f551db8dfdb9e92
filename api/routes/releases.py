"""``GET /releases``: the gateway release each rollout group should run (the registry's desired
versions, written by ``jagajalan firmware rollout``) and the gateways behind it: those whose
newest status reports another version, or no version, or that have never been seen."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import RegistryDep, StoreDep
from api.errors import REGISTRY_ERRORS, STORE_ERRORS
from api.models import GatewayBehind, ReleaseGroup, Releases
from kernel.times import utc_iso
from telemetry.mapping import STATUS_MEASUREMENT

router = APIRouter(tags=["gateways"])


@router.get(
    "/releases",
    response_model=Releases,
    summary="Desired gateway releases per group, and the gateways behind them",
    responses={**REGISTRY_ERRORS, **STORE_ERRORS},
)
def releases(registry: RegistryDep, store: StoreDep) -> Releases:
    """``groups``: each rollout group's desired version (pilot or a kecamatan), ordered by
    name, with the number of its gateways; ``behind``: every gateway of a group whose newest
    status does not report that version (``version`` null: never seen, or its status carried
    no version), ordered by gateway id."""
    desired = registry.desired()
    seen = {g.gateway: g for g in store.gateways()}
    statuses = {p.tags.get("gateway"): p for p in store.newest(STATUS_MEASUREMENT)}
    groups: dict[str, ReleaseGroup] = {}
    behind = []
    for want in desired:
        group = groups.get(want.group)
        if group is None:
            group = groups[want.group] = ReleaseGroup(
                group=want.group,
                version=want.version,
                counter=want.counter,
                rollout=want.rollout,
                set_at=utc_iso(int(want.set_at.timestamp() * 1000)) or "",
                gateways=0,
                behind=0,
            )
        group.gateways += 1
        status = statuses.get(want.gateway)
        value = status.fields.get("version") if status is not None else None
        version = value if isinstance(value, str) and value else None
        if version != want.version:
            group.behind += 1
            state = seen[want.gateway].state if want.gateway in seen else None
            behind.append(
                GatewayBehind(
                    gateway=want.gateway,
                    group=want.group,
                    desired=want.version,
                    version=version,
                    state=state,
                )
            )
    return Releases(groups=sorted(groups.values(), key=lambda g: g.group), behind=behind)
