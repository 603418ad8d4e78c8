"""One configuration with an SQLite database, a PostgreSQL database and an S3
prefix, run twice as cron would start it: the second run is incremental.

The PostgreSQL and S3 servers are the session fixtures on loopback. The
password and the S3 keys reach ``cardex run`` only through environment
variables that the configuration names.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from s3server import ADMIN, S3Server

CARDEX = [sys.executable, "-m", "scanner"]
PHONES = ["13812340001", "13912340002", "13712340003", "15012340004"]
BUCKET = "nightly"


def _owners_rows() -> list[tuple[str, str, str]]:
    return [(f"owner{i}", PHONES[i % len(PHONES)], "北京") for i in range(40)]


def _sqlite_source(folder: Path) -> str:
    path = folder / "dealers.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE owners (name TEXT, phone TEXT, city TEXT)")
        connection.executemany("INSERT INTO owners VALUES (?, ?, ?)", _owners_rows())
    return f"sqlite:///{path}"


def _postgres_source(postgres_url: str) -> tuple[str, str]:
    """Create a table; return the URL without its password, and the password."""
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS run_owners"))
        connection.execute(
            sa.text("CREATE TABLE run_owners (name TEXT, phone TEXT, city TEXT)")
        )
        connection.execute(
            sa.text("INSERT INTO run_owners VALUES (:n, :p, :c)"),
            [{"n": n, "p": p, "c": c} for n, p, c in _owners_rows()],
        )
    engine.dispose()
    url = sa.make_url(postgres_url)
    password = url.password or ""
    return url.set(password=None).render_as_string(hide_password=False), password


def _password_reference(password: str) -> dict[str, object]:
    """Credentials naming the password's variable; none for a server without."""
    if not password:
        return {}
    return {"credentials": {"password": {"env": "TEST_PG_PASSWORD"}}}


def _s3_source(s3_server: S3Server, folder: Path) -> str:
    lake = folder / "upload"
    lake.mkdir()
    lines = ["name,phone"] + [f"{n},{p}" for n, p, _ in _owners_rows()]
    (lake / "owners.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    s3_server.create_bucket(BUCKET)
    s3_server.upload_folder(lake, f"{BUCKET}/raw")
    return f"s3://{BUCKET}/raw"


def _cardex(*args: object, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [*CARDEX, *map(str, args)],
        capture_output=True,
        text=True,
        env={**base, **env},
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.slow
@pytest.mark.postgres
def test_three_sources_run_twice_second_incremental(
    tmp_path: Path, postgres_url: str, s3_server: S3Server
) -> None:
    pg_url, pg_password = _postgres_source(postgres_url)
    config = {
        "sources": [
            {"name": "dealers", "url": _sqlite_source(tmp_path)},
            {"name": "crm", "url": pg_url, **_password_reference(pg_password)},
            {
                "name": "bucket",
                "url": _s3_source(s3_server, tmp_path),
                "endpoint_url": s3_server.endpoint,
                "credentials": {
                    "environment": {
                        "AWS_ACCESS_KEY_ID": {"env": "TEST_S3_KEY"},
                        "AWS_SECRET_ACCESS_KEY": {"env": "TEST_S3_SECRET"},
                    }
                },
            },
        ],
        "catalog": {"url": f"sqlite:///{tmp_path}/catalog.db"},
        "outputs": {"metrics": "out/cardex.prom", "report": "out/report.json"},
        "run": {"concurrency": 2, "incremental": True},
    }
    config_path = tmp_path / "cardex.yaml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    env = {
        "TEST_PG_PASSWORD": pg_password,
        "TEST_S3_KEY": ADMIN.access_key,
        "TEST_S3_SECRET": ADMIN.secret_key,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }

    first = _cardex("run", "--config", config_path, "--log-format", "json", env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    second = _cardex("run", "--config", config_path, "--log-format", "json", env=env)
    assert second.returncode == 0, second.stderr[-2000:]

    listed = _cardex("runs", "--config", config_path, "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    runs = json.loads(listed.stdout)
    assert len(runs) == 2
    newest, oldest = runs
    # The PostgreSQL database is shared with other tests and may hold more
    # tables than the one made here.
    first_scanned = oldest["counts"]["datasets_scanned"]
    assert first_scanned >= 3
    assert oldest["counts"]["datasets_failed"] == 0
    assert oldest["counts"]["labels_added"] >= 3
    assert newest["counts"]["datasets_scanned"] == 0
    assert newest["counts"]["datasets_skipped"] == first_scanned
    assert newest["counts"]["labels_removed"] == 0

    metrics = (tmp_path / "out" / "cardex.prom").read_text(encoding="utf-8")
    assert "cardex_" in metrics
    for secret in (pg_password, ADMIN.secret_key):
        for text in (first.stdout, first.stderr, second.stderr, listed.stdout, metrics):
            assert not secret or secret not in text
