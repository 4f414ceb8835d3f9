"""Service test fixtures: the same tests run on SQLite and on a real PostgreSQL server that the
session starts itself (initdb into a temporary folder, pg_ctl on a free loopback port; as the
``postgres`` user when the tests run as root, since the server refuses to run as root).

Without PostgreSQL binaries the PostgreSQL half is skipped, except under CI=1/true, where it
fails: CI installs the Debian ``postgresql`` package and must run these tests."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
import yaml

from liqrisk.service.loopback import free_port

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "multi_venue.yaml"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="session")
def postgres_server():
    """(host, port, user) of a throw-away PostgreSQL cluster, stopped at the end of the session."""
    bindir = _pg_bin()
    if bindir is None:
        if IN_CI:
            pytest.fail("PostgreSQL binaries not found under /usr/lib/postgresql (CI must install postgresql)")
        pytest.skip("PostgreSQL not installed")
    folder = Path(tempfile.mkdtemp(prefix="liqrisk-pg-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    port, user = free_port(), "liqrisk"
    subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", user, "-A", "trust",
                                 "--no-sync", "-E", "UTF8"]), check=True, capture_output=True)
    opts = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l",
                                 str(folder / "log"), "-w", "-t", "60", "start"]), check=True, capture_output=True)
    try:
        yield "127.0.0.1", port, user
    finally:
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def new_postgres_database(server) -> str:
    import psycopg
    host, port, user = server
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(host=host, port=port, user=user, dbname="postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://{user}@{host}:{port}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        return str(tmp_path / "liqrisk.db")
    return new_postgres_database(request.getfixturevalue("postgres_server"))


@pytest.fixture
def client(database_url):
    from fastapi.testclient import TestClient
    from liqrisk.service import create_app
    with TestClient(create_app(database_url)) as c:
        yield c


@pytest.fixture(scope="session")
def demo_doc() -> dict:
    """examples/multi_venue.yaml as the JSON document the API takes."""
    from liqrisk.service.app import json_document
    return json_document(yaml.safe_load(DEMO.read_text()))
