"""The one place InfluxQL is quoted: identifiers and string literals that nothing can end early.

Every statement JagaJalan builds (queries of the store, retention policies, continuous queries,
users and grants of ``store setup``) quotes names with :func:`quote_ident` and values with
:func:`quote_string`, whatever their origin: a gateway id from an HTTP request, a database name
from the command line, a password from a file.

InfluxQL's scanner (``influxql/scanner.go``, ``ScanString``) reads both kinds of quoted token the
same way: ``\\\\``, ``\\"``, ``\\'`` and ``\\n`` are the only escapes, and a raw newline ends the
token with an error. So a backslash, the quote character and a newline are escaped, and nothing
else needs to be. Pure functions, no I/O; :func:`where` builds the store's WHERE clauses with
them.
"""

from __future__ import annotations


def _escape(text: str, quote: str) -> str:
    # The backslash first: the escapes added after it must stay as they are.
    return text.replace("\\", "\\\\").replace(quote, "\\" + quote).replace("\n", "\\n")


def quote_ident(name: str) -> str:
    """An InfluxQL identifier (database, measurement, field, tag, user, policy, query name)
    in double quotes, e.g. ``"rollup_1m"``."""
    return '"' + _escape(name, '"') + '"'


def quote_string(value: str) -> str:
    """An InfluxQL string literal in single quotes (a tag value in ``WHERE``, a password)."""
    return "'" + _escape(value, "'") + "'"


def where(gateway: str | None, start_ms: int | None = None, end_ms: int | None = None) -> str:
    """`` WHERE ...`` for one gateway (its tag) and a time window (start included, end
    excluded), or "" for neither."""
    terms = [] if gateway is None else [f"{quote_ident('gateway')} = {quote_string(gateway)}"]
    if start_ms is not None:
        terms.append(f"time >= {int(start_ms)}ms")
    if end_ms is not None:
        terms.append(f"time < {int(end_ms)}ms")
    return " WHERE " + " AND ".join(terms) if terms else ""
