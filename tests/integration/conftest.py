"""Servers and deployments for the integration tests (see tests/servers.py, deployment.py)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.deployment import Deployment
from tests.servers import PostgresServer, RedisServer

TEMPLATE = "eventtree_template"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session, with a migrated template database."""
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_template(postgres, tmp_path_factory) -> str:
    # Migrating takes seconds; copying a migrated database (CREATE DATABASE … TEMPLATE) does not.
    url = postgres.database_create(TEMPLATE)
    Deployment(workdir=tmp_path_factory.mktemp("template"), database_url=url).manage("migrate", "--noinput")
    return TEMPLATE


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "db.sqlite3"
    Deployment(workdir=path.parent, database_url=f"sqlite:///{path}").manage("migrate", "--noinput")
    return path


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    """A Redis server of the test's own: nothing queued by another test can reach it."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def postgres_database(postgres, postgres_template) -> str:
    """The URL of a fresh, migrated database on the session's server."""
    return postgres.database_create(template=postgres_template)


@pytest.fixture
def sqlite_database(sqlite_template, tmp_path) -> str:
    path = tmp_path / "db.sqlite3"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def deploy(tmp_path) -> Iterator[Callable[..., Deployment]]:
    """`deploy(database_url=…, redis_url=…, env={…})`: a deployment, installed as the README
    says and stopped after the test, whatever happens."""
    started: list[Deployment] = []

    def deploy(**kwargs) -> Deployment:
        deployment = Deployment(workdir=tmp_path / f"deployment-{len(started)}", **kwargs)
        started.append(deployment)
        return deployment.install()

    yield deploy
    for deployment in started:
        deployment.stop()


@pytest.fixture(params=["orm-sqlite", "redis-postgres"])
def deploy_each_setup(request, deploy) -> Callable[..., Deployment]:
    """`deploy_each_setup(env={…})`: the test runs twice, on the embedded default (SQLite and the
    ORM broker, which re-delivers a task) and on PostgreSQL with Redis (which loses it)."""
    def deploy_on(**kwargs) -> Deployment:
        if request.param == "orm-sqlite":
            return deploy(database_url=request.getfixturevalue("sqlite_database"), **kwargs)
        return deploy(database_url=request.getfixturevalue("postgres_database"),
                      redis_url=request.getfixturevalue("redis").url, **kwargs)

    return deploy_on
