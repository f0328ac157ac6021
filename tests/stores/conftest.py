"""Fixtures for the store backends: real Redis, Redis Cluster and PostgreSQL servers.

Servers are session-scoped (started once, on first use) and each test gets a fresh namespace:
a unique Redis key prefix, or an emptied PostgreSQL database.  Tests that stop or freeze a
server (``test_faults.py``) start their own.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
from typing import TYPE_CHECKING, Any

import pytest

from .servers import PostgresServer, RedisCluster, RedisServer, unavailable
from .workers import close

if TYPE_CHECKING:
    from collections.abc import Iterator

_PREFIXES = itertools.count()


def need_module(*names: str) -> None:
    """Skip (fail under CI) unless the client libraries ``names`` are importable."""
    for name in names:
        if importlib.util.find_spec(name) is None:
            unavailable(
                f"the Python package {name} is not installed "
                "(pip install 'authcore[redis,postgres]')"
            )


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One ``redis-server`` for the session."""
    need_module("redis")
    server = RedisServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """A 3-node Redis Cluster for the session."""
    need_module("redis")
    cluster = RedisCluster()
    yield cluster
    cluster.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL cluster for the session."""
    need_module("psycopg", "psycopg_pool")
    server = PostgresServer()
    yield server
    server.close()


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix no other test uses (tests and pytest-xdist workers share one server)."""
    return f"t{os.getpid()}-{next(_PREFIXES)}:"


@pytest.fixture(params=["single", "cluster"])
def redis_client(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A client of the session Redis, then of the 3-node cluster (each test runs on both)."""
    from authcore.stores.redis import connect  # noqa: PLC0415 - optional dependency

    server = request.getfixturevalue(
        "redis_server" if request.param == "single" else "redis_cluster"
    )
    client = connect(server.url, cluster=request.param == "cluster", timeout=5.0)
    yield client
    close(client)


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer) -> str:
    """A connection string to a new, empty database on the session PostgreSQL."""
    import psycopg  # noqa: PLC0415 - optional dependency

    name = f"t{os.getpid()}_{next(_PREFIXES)}"
    with psycopg.connect(postgres_server.dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    return postgres_server.dsn.replace("dbname=postgres", f"dbname={name}")
