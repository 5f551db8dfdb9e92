"""The API's access control from its settings: the registry that holds the keys.

Without a registry (no ``--registry-url`` and no ``--registry-db`` file) no key is valid:
only the public routes answer (``--public-read``), and the log says how to make keys. A
registry that is not migrated yet is logged with the fixing command; the API serves anyway
and checks keys once an admin has run it (no restart).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from api.access import Access, registry_check

if TYPE_CHECKING:
    from api.settings import ApiSettings
    from registry.read import RegistryReader

log = logging.getLogger("api")


def access_from(settings: ApiSettings) -> Access:
    public = settings.public_groups()
    limits = settings.limits()
    if settings.registry_url is None and not settings.registry_db.exists():
        log.warning(
            "no registry at %s: no API key is valid (make one: jagajalan registry init, then "
            "jagajalan registry key create --role viewer)",
            settings.registry_db,
        )
        return Access(None, public, limits)
    from registry import db

    url = settings.database_url()
    where = url.render_as_string(hide_password=True)
    engine = db.engine_for(url)
    try:
        if db.current(engine) != db.head():
            log.error("the registry %s is not migrated: run jagajalan registry upgrade", where)
    except Exception as exc:  # unreachable now: keys answer 503 until it is back
        log.error("the registry %s cannot be reached: %s", where, str(exc).splitlines()[0])
    log.info("API keys from the registry %s", where)
    return Access(registry_check(engine), public, limits, engine)


def registry_reader(access: Access) -> RegistryReader | None:
    """The registry's sites, read through the engine the keys use; None without a registry
    (the /sites routes then answer 503 saying so)."""
    if access.engine is None:
        return None
    from registry.read import RegistryReader

    return RegistryReader(access.engine)
