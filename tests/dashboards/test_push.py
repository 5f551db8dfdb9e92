"""``jagajalan dashboards push`` against a loopback stand-in of Grafana's HTTP API.

This is NOT a Grafana server (none can be installed here): it is a small HTTP server on
127.0.0.1 that answers the three endpoints the push uses as Grafana's HTTP API documents
them (``GET /api/folders/:uid``: 404 for a folder that does not exist; ``POST /api/folders``;
``POST /api/dashboards/db``), checks the ``Authorization: Bearer`` token, and records every
request. The real parts are grafana-client, its HTTP stack and the command itself.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from dashboards.generate import FOLDER
from jagajalan.cli import main

TOKEN = "glsa_standin_0123456789abcdef"


@dataclass
class StandIn:
    url: str
    folders: dict[str, dict] = field(default_factory=dict)
    dashboards: dict[str, dict] = field(default_factory=dict)
    requests: list[tuple[str, str, dict | None]] = field(default_factory=list)
    tokens: set[str] = field(default_factory=lambda: {TOKEN})


@pytest.fixture
def grafana() -> Iterator[StandIn]:
    state = StandIn("")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self, body: dict | None) -> bool:
            state.requests.append((self.command, self.path, body))
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            if token not in state.tokens:
                self._answer(401, {"message": "Unauthorized"})
                return False
            return True

        def do_GET(self) -> None:
            if not self._authorised(None):
                return
            uid = self.path.removeprefix("/api/folders/")
            if self.path.startswith("/api/folders/") and uid in state.folders:
                self._answer(200, state.folders[uid])
            else:
                self._answer(404, {"message": "folder not found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            if not self._authorised(body):
                return
            if self.path == "/api/folders":
                state.folders[body["uid"]] = {"uid": body["uid"], "title": body["title"]}
                self._answer(200, state.folders[body["uid"]])
            elif self.path == "/api/dashboards/db":
                uid = body["dashboard"]["uid"]
                if body["folderUid"] not in state.folders:
                    self._answer(400, {"message": "folder not found"})
                    return
                state.dashboards[uid] = body
                self._answer(200, {"status": "success", "uid": uid, "version": 1})
            else:
                self._answer(404, {"message": "not found"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _push(grafana: StandIn, tmp_path: Path, token: str = TOKEN) -> int:
    secret = tmp_path / "token"
    secret.write_text(token + "\n")
    args = ["dashboards", "push", "--grafana-url", grafana.url, "--grafana-token-file", str(secret)]
    return main([*args, "--lang", "id"])


def test_push_creates_the_folder_and_saves_every_dashboard(
    grafana: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _push(grafana, tmp_path) == 0
    files = {json.loads(p.read_text(encoding="utf-8"))["uid"]: p for p in FOLDER.glob("*.json")}
    assert set(grafana.dashboards) == set(files)
    for uid, body in grafana.dashboards.items():
        assert body["folderUid"] == "jagajalan" and body["overwrite"] is True
        assert body["dashboard"] == json.loads(files[uid].read_text(encoding="utf-8"))
    assert grafana.folders == {"jagajalan": {"uid": "jagajalan", "title": "JagaJalan"}}
    out = capsys.readouterr()
    assert out.out.count("tersimpan di Grafana") == len(files)
    assert TOKEN not in out.out + out.err


def test_a_second_push_reuses_the_folder_and_overwrites(grafana: StandIn, tmp_path: Path) -> None:
    assert _push(grafana, tmp_path) == 0
    assert _push(grafana, tmp_path) == 0
    folder_posts = [r for r in grafana.requests if r[:2] == ("POST", "/api/folders")]
    assert len(folder_posts) == 1
    saves = [r for r in grafana.requests if r[:2] == ("POST", "/api/dashboards/db")]
    assert len(saves) == 2 * len(grafana.dashboards)


def test_a_refused_token_fails_with_grafanas_answer_and_no_secret(
    grafana: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _push(grafana, tmp_path, token="glsa_wrong_token_value") == 1
    err = capsys.readouterr().err
    assert "menolak" in err and "401" in err
    assert "glsa_wrong_token_value" not in err
    assert grafana.dashboards == {}


def test_no_grafana_listening_is_a_clear_failure(tmp_path: Path, capsys) -> None:
    from testkit.services import free_port

    stand_in = StandIn(f"http://127.0.0.1:{free_port()}")
    assert _push(stand_in, tmp_path) == 1
    assert "tidak dapat dihubungi" in capsys.readouterr().err


def test_the_token_is_never_taken_from_the_command_line(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["dashboards", "push", "--grafana-token", TOKEN])
    assert exit_.value.code == 2
    assert TOKEN not in capsys.readouterr().err
