"""The production store: InfluxDB over its 1.x HTTP API (``/write``, ``/query``, ``/ping``).

Only plain HTTP, no InfluxDB client library: queries through one kept-alive
:class:`httpx.Client`, writes through :class:`store.influx_write.WritePath` (httpcore, the
pool under httpx, without httpx's client layers: half the CPU per write). Both connect
directly, never through a proxy named by the environment, and verify TLS the same way
(certifi's bundle, or ``SSL_CERT_FILE``/``SSL_CERT_DIR`` when set).
The same endpoints serve InfluxDB 2.x/3.x through their v1 compatibility API when a token is
given (``Authorization: Token <token>``). With InfluxDB 1.x and a username, credentials go
in an HTTP Basic ``Authorization`` header (which 1.x accepts exactly like its ``u``/``p``
query parameters) so that a password never appears in a URL, where it would end up in
request logs.

Nothing is created here: not by the constructor, not by a write. A write to a database that
does not exist raises :class:`StoreNotReady`; the database, its retention policies, continuous
queries and users are made once by ``jagajalan store setup`` (:mod:`store.setup`), with admin
credentials that services never hold. :meth:`InfluxStore.ensure` (``CREATE DATABASE``) is for
set-up and tests only.

Errors (their kinds: :func:`store.base.classify`), each carrying InfluxDB's own error text,
never a secret: no connection, a timeout, a 5xx, 408 or 429 answer raise
:class:`StoreUnavailable`; a refused login (401), a missing privilege (403 on ``/write``, or
"requires READ" on ``/query``) and a missing database (404 "database not found") raise
:class:`StoreNotReady` naming what is missing; any other 403 (e.g. "requires admin privilege")
raises :class:`StoreAuthFailed`; any other 404 (not InfluxDB's API at all) or a redirect raise
:class:`StoreMisconfigured`, naming the fix; 400 (the points: unparsable, field type conflict,
beyond retention) raises :class:`StoreRejected`; any other answer, 413 (request too large)
among them, raises :class:`StoreRequestRefused`. Statements go in the request body
(form-encoded), not in the URL that proxies and InfluxDB's own HTTP log record.

Checks (:meth:`InfluxStore.check_write`, :meth:`InfluxStore.check_read`), as measured on
InfluxDB 1.6 with ``auth-enabled = true``: ``/write`` with an empty body answers 204 when the
user may write, 403 when it may not, 404 when the database does not exist (InfluxDB looks for
the database before it checks the privilege, so this tells any user whether it exists), and 401
for a refused login; it writes nothing. ``SHOW RETENTION POLICIES ON <db>`` answers 200 to a
user with READ, 403 "requires READ" to one without (also when the database does not exist: the
empty write then tells the two apart), and "database not found" to an admin or without auth.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any, NoReturn

import httpx

from store import influx_read
from store.base import (
    MISSING_DATABASE,
    MISSING_LOGIN,
    MISSING_READ,
    MISSING_WRITE,
    GatewaySeen,
    LatestValue,
    SeriesQuery,
    SeriesRow,
    Store,
    StoreAuthFailed,
    StoreMisconfigured,
    StoreNotReady,
    StoreRejected,
    StoreRequestRefused,
    StoreUnavailable,
)
from store.influx_write import WRITE_LINES_CHARS, WritePath, chunks, unavailable
from store.influxql import quote_ident, where
from telemetry.line_block import LineBlock
from telemetry.mapping import (
    Point,
    to_lines,
)

_ERROR_TEXT_LIMIT = 500


class InfluxStore(Store):
    def __init__(
        self,
        url: str,
        database: str = "jagajalan",
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.username = None if token else username  # for messages; None: token or anonymous
        self.token = bool(token)
        headers = {"User-Agent": "jagajalan"}
        self._secrets = tuple(s for s in (token, password) if s)  # kept out of error texts
        if token:
            headers["Authorization"] = f"Token {token}"
        elif username:  # HTTP Basic, as httpx.BasicAuth writes it
            pair = f"{username}:{password or ''}".encode()
            headers["Authorization"] = f"Basic {base64.b64encode(pair).decode()}"
        tls = httpx.create_ssl_context()
        # Connection pools, kept alive: consecutive requests reuse the same TCP connections.
        self._client = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, verify=tls, trust_env=False
        )
        self._writes = WritePath(self.url, database, headers, tls, timeout)

    def __repr__(self) -> str:  # never shows credentials
        return f"InfluxStore(url={self.url!r}, database={self.database!r})"

    # -- HTTP ---------------------------------------------------------------------------

    def _request(self, path: str, params: dict[str, str], form: dict[str, str]) -> httpx.Response:
        try:
            response = self._client.post(path, params=params, data=form)
        except httpx.TimeoutException as exc:
            raise unavailable(self.url, exc, timed_out=True) from None
        except httpx.TransportError as exc:
            raise unavailable(self.url, exc, timed_out=False) from None
        if response.status_code < 300:
            return response
        self._answer(path, response)

    def _answer(self, path: str, response: httpx.Response) -> NoReturn:
        """Raise the error that an answer of 300 or more stands for (module docstring)."""
        status = response.status_code
        text = self._error_text(response)
        if status in (401, 403) or (status == 404 and "database not found" in text):
            self._refused(path, status, text)
        if status >= 500 or status in (408, 429):
            raise StoreUnavailable(f"InfluxDB answered HTTP {status}: {text}")
        if status == 404:
            raise StoreMisconfigured(
                f"{self.url}{path} answered HTTP 404 ({text}): that is not InfluxDB's HTTP "
                "API; check the URL's host, port and path"
            )
        if status < 400:
            location = response.headers.get("location", "(nowhere)")
            raise StoreMisconfigured(
                f"{self.url}{path} redirects to {location} (HTTP {status}): use the address "
                "it redirects to as the InfluxDB URL"
            )
        if status == 400:
            raise StoreRejected(f"InfluxDB refused (HTTP 400): {text}")
        raise StoreRequestRefused(f"InfluxDB refused (HTTP {status}): {text}")

    def _error_text(self, response: httpx.Response) -> str:
        return _error_text(response, self._secrets)

    def _who(self) -> str:
        if self.token:
            return "the token"
        return f"user {self.username!r}" if self.username else "an anonymous client"

    def _not_ready(self, missing: str, message: str) -> StoreNotReady:
        return StoreNotReady(
            f"InfluxDB at {self.url}: {message}",
            missing=missing,
            database=self.database,
            user=self.username,
        )

    def _refused(self, path: str, status: int, text: str) -> None:
        """Raise the error for a 401, 403 or 404 answer (404: only a missing database)."""
        db = self.database
        if status == 401:
            if self.username or self.token:
                problem = f"refused the login of {self._who()} ({text}): no such user, or "
                problem += "another password" if self.username else "the token is not valid"
            else:
                problem = f"requires a login ({text}): give a username and password, or a token"
            raise self._not_ready(MISSING_LOGIN, problem)
        if status == 404:  # "database not found" (the only 404 sent here)
            raise self._not_ready(MISSING_DATABASE, f"database {db!r} does not exist")
        if path == "/write":
            raise self._not_ready(
                MISSING_WRITE, f"{self._who()} may not write to database {db!r} (needs WRITE)"
            )
        if "requires READ" in text:
            raise self._not_ready(
                MISSING_READ,
                f"{self._who()} may not read database {db!r} (needs READ, or the database "
                "does not exist)",
            )
        raise StoreAuthFailed(f"InfluxDB at {self.url} refused (HTTP 403): {text}")

    def _query(self, q: str) -> list[dict[str, Any]]:
        """Run InfluxQL statements; one result per statement (``series`` may be missing; a
        database not created yet reads as empty)."""
        return self.execute(q, tolerate=("database not found",))

    # -- Store --------------------------------------------------------------------------

    def ensure(self) -> None:
        """``CREATE DATABASE`` (needs an admin; idempotent). For set-up and tests: services
        never call it, and ``jagajalan store setup`` does the whole set-up."""
        self.execute(f"CREATE DATABASE {quote_ident(self.database)}")

    def check_write(self) -> None:
        """An empty ``/write``: 204 means this user may write (nothing is written). Any other
        4xx than 401/403/404 (a server that refuses an empty body) proves nothing either way
        and passes: the writes themselves will tell."""
        try:
            self._write_body(b"")
        except StoreMisconfigured:  # StoreAuthFailed and StoreNotReady included
            raise
        except StoreRejected:
            return

    def check_read(self) -> None:
        """``SHOW RETENTION POLICIES``; when refused, an empty write tells a missing database
        from a missing READ privilege (see the module docstring)."""
        try:
            self.execute(f"SHOW RETENTION POLICIES ON {quote_ident(self.database)}")
        except StoreNotReady as exc:
            if exc.missing == MISSING_READ and self._database_missing():
                raise self._not_ready(
                    MISSING_DATABASE, f"database {self.database!r} does not exist"
                ) from None
            raise
        except StoreRejected as exc:
            if "database not found" in str(exc):
                raise self._not_ready(
                    MISSING_DATABASE, f"database {self.database!r} does not exist"
                ) from None
            raise

    def _database_missing(self) -> bool:
        try:
            self.check_write()
        except StoreNotReady as exc:
            return exc.missing == MISSING_DATABASE
        return False

    def execute(
        self, statement: str, tolerate: Sequence[str] = (), shown: str | None = None
    ) -> list[dict[str, Any]]:
        """Run InfluxQL statement(s) on this database; one result per statement. An error
        that contains one of the *tolerate* texts is ignored, any other raises StoreRejected.
        Errors quote *shown* (e.g. the statement with its password masked) instead of the
        statement when given. The statement travels in the request body, never in the URL."""
        params = {"db": self.database, "epoch": "ms"}
        response = self._request("/query", params, form={"q": statement})
        try:
            results = response.json().get("results", [])
        except (ValueError, AttributeError):
            raise StoreUnavailable(
                f"InfluxDB at {self.url} answered a query with something that is not its JSON"
            ) from None
        for result in results:
            error = result.get("error")
            if error and not any(t in error for t in tolerate):
                text = shown if shown is not None else statement
                raise StoreRejected(f"InfluxDB refused {text[:80]!r}...: {error}")
        return results

    def write(self, points: Sequence[Point]) -> None:
        for chunk in chunks(points):
            self._write_body(to_lines(chunk))

    def write_lines(self, lines: Sequence[str]) -> None:
        """Write points already in line protocol (``precision=ms``), one line each: in one
        request up to :data:`WRITE_LINES_CHARS`, else in chunks of about that size. A
        :class:`~telemetry.line_block.LineBlock` (ingest's batches) is sent as its text."""
        if type(lines) is LineBlock and len(lines.text) <= WRITE_LINES_CHARS:
            if lines.n:
                self._write_body(lines.text.encode())
            return
        size = sum(map(len, lines)) + len(lines)
        per = len(lines) if size <= WRITE_LINES_CHARS else len(lines) * WRITE_LINES_CHARS // size
        for chunk in chunks(lines, max(1, per)):
            self._write_body("\n".join(chunk).encode())

    def _write_body(self, body: bytes) -> None:
        # A missing database raises StoreNotReady: it is `store setup`'s to create, not ours.
        answer = self._writes.post(body)
        if answer.status >= 300:  # judged as any answer: the same errors, the same texts
            self._answer(
                "/write",
                httpx.Response(answer.status, headers=answer.headers, content=answer.content),
            )

    def latest(
        self, gateway: str | None = None, measurement: str | None = None
    ) -> list[LatestValue]:
        return influx_read.latest(self, gateway, measurement)

    def gateways(self) -> list[GatewaySeen]:
        return influx_read.gateways(self)

    def count(self, measurement: str, gateway: str | None = None) -> int:
        """Points in *measurement*: per series the largest per-field count, summed. Exact
        whenever each series has a field that all its points carry (true for every
        measurement of the protocol); InfluxQL has no row count."""
        (result,) = self._query(
            f"SELECT count(*) FROM {quote_ident(measurement)}{where(gateway)} GROUP BY *"
        )
        total = 0
        for series in result.get("series", []):
            for row in series.get("values", []):
                total += max((int(v) for v in row[1:] if v is not None), default=0)
        return total

    def points(
        self,
        measurement: str,
        gateway: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[Point]:
        out = self._select(measurement, where(gateway, start_ms, end_ms), "")
        out.sort(key=lambda p: (p.time_ms, sorted(p.tags.items())))
        return out

    def newest(
        self, measurement: str, gateway: str | None = None, before_ms: int | None = None
    ) -> list[Point]:
        # LIMIT applies per series (GROUP BY *): the newest point of each.
        out = self._select(
            measurement, where(gateway, end_ms=before_ms), " ORDER BY time DESC LIMIT 1"
        )
        out.sort(key=lambda p: sorted(p.tags.items()))
        return out

    def newest_of(self, measurements: Sequence[str]) -> dict[str, list[Point]]:
        """Two requests whatever the number of measurements and series: the field keys, then
        one statement per measurement (LIMIT 1 per series, as :meth:`newest`)."""
        wanted = list(dict.fromkeys(measurements))
        kinds = self._field_keys(None)
        present = [m for m in wanted if kinds.get(m)]
        out: dict[str, list[Point]] = {m: [] for m in wanted}
        if not present:
            return out
        q = ";".join(
            f"SELECT * FROM {quote_ident(m)} GROUP BY * ORDER BY time DESC LIMIT 1" for m in present
        )
        for m, result in zip(present, self._query(q), strict=True):
            points = influx_read.points_of(m, result, kinds[m])
            out[m] = sorted(points, key=lambda p: sorted(p.tags.items()))
        return out

    def series(self, query: SeriesQuery, after_ms: int | None, limit: int) -> list[SeriesRow]:
        from store.series import influx_series

        return influx_series(self, query, after_ms, limit)

    def _select(self, measurement: str, condition: str, tail: str) -> list[Point]:
        kinds = self._field_keys(measurement).get(measurement, {})
        if not kinds:
            return []
        (result,) = self._query(
            f"SELECT * FROM {quote_ident(measurement)}{condition} GROUP BY *{tail}"
        )
        return influx_read.points_of(measurement, result, kinds)

    def ping(self) -> bool:
        try:
            return self._client.get("/ping").status_code == 204
        except httpx.HTTPError:
            return False

    def close(self) -> None:
        self._client.close()
        self._writes.close()

    # -- helpers ------------------------------------------------------------------------

    def _field_keys(self, measurement: str | None) -> dict[str, dict[str, str]]:
        """measurement -> field name -> InfluxDB type (float, integer, string, boolean)."""
        q = "SHOW FIELD KEYS"
        if measurement is not None:
            q += f" FROM {quote_ident(measurement)}"
        (result,) = self._query(q)
        out: dict[str, dict[str, str]] = {}
        for series in result.get("series", []):
            keys = out.setdefault(series["name"], {})
            for key, kind in series.get("values", []):
                keys.setdefault(key, kind)  # the first type wins if shards disagree
        return out


def _error_text(response: httpx.Response, secrets: Sequence[str] = ()) -> str:
    try:
        text = str(response.json().get("error", response.text))
    except (json.JSONDecodeError, AttributeError, UnicodeDecodeError):
        text = response.text
    text = text.strip() or response.reason_phrase
    for secret in secrets:  # an answer that echoes a secret must not carry it into a log
        text = text.replace(secret, "***")
    return text if len(text) <= _ERROR_TEXT_LIMIT else text[: _ERROR_TEXT_LIMIT - 3] + "..."
