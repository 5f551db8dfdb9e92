"""``jagajalan dashboards push``: the dashboards into a running Grafana, through its HTTP API.

For a Grafana that JagaJalan does not provision (dashboards/provisioning/ does that for the
one it runs). Through grafana-client: the folder "JagaJalan" (uid :data:`FOLDER_UID`) is
created when missing, then every dashboard is saved into it with ``overwrite``, so pushing
again replaces the same dashboards (same uids) and Grafana keeps their versions. The token is
a service account token whose role may write dashboards (Editor or Admin); it is sent in the
Authorization header only, never logged or printed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

FOLDER_UID = "jagajalan"
FOLDER_TITLE = "JagaJalan"
MESSAGE = "jagajalan dashboards push"


class PushError(Exception):
    """Grafana refused a request: what was asked and Grafana's answer (never the token)."""


def push(
    api: Any, dashboards: dict[str, str], progress: Callable[[str, str], None] = lambda *a: None
) -> list[str]:
    """Save every dashboard (file name -> JSON text) into the JagaJalan folder through *api*
    (a ``grafana_client.GrafanaApi``). Returns the uids saved, in order."""
    from grafana_client.client import GrafanaClientError, GrafanaException

    try:
        try:
            api.folder.get_folder(FOLDER_UID)
        except GrafanaClientError as exc:
            if exc.status_code != 404:
                raise
            api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
        saved = []
        for name, text in dashboards.items():
            board = json.loads(text)
            board.pop("id", None)
            api.dashboard.update_dashboard(
                {"dashboard": board, "folderUid": FOLDER_UID, "overwrite": True, "message": MESSAGE}
            )
            saved.append(board["uid"])
            progress(name, board["uid"])
        return saved
    except GrafanaException as exc:  # 4xx, 5xx, a timeout: the status and Grafana's message
        raise PushError(f"Grafana answered {exc.status_code}: {exc.message}") from None
