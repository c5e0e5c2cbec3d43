"""`make test`: may the PostgreSQL run use this URL? Exit 0 if it connects; else print why
not, telling a server that does not answer from a database that does not exist on it.

    python tests/pg_probe.py postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import sys
from urllib.parse import urlparse, urlunparse

import psycopg2


def probe(url: str) -> str | None:
    """None when `url` connects, else one line saying what is missing."""
    try:
        psycopg2.connect(url, connect_timeout=2).close()
        return None
    except psycopg2.OperationalError as exc:
        reason = " ".join(str(exc).split())
    name = urlparse(url).path.lstrip("/") or "postgres"
    server = urlunparse(urlparse(url)._replace(path="/postgres"))
    try:
        psycopg2.connect(server, connect_timeout=2).close()
    except psycopg2.OperationalError:
        return (
            f"no PostgreSQL server answers at {url} ({reason}); "
            "set PAMGATE_TEST_DATABASE_URL or PG_URL to run the suite on PostgreSQL"
        )
    return (
        f"the server answers but database {name!r} does not exist ({reason}); "
        f"create it (createdb -h HOST -U USER {name}) or set PG_URL"
    )


if __name__ == "__main__":
    problem = probe(sys.argv[1])
    if problem:
        print(f"== PostgreSQL run SKIPPED: {problem}")
    sys.exit(0 if problem is None else 1)
