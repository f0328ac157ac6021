"""The throwaway test servers start, answer, and behave like production ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from .servers import find_binary, free_port

if TYPE_CHECKING:
    from .servers import PostgresServer, RedisCluster, RedisServer


def test_free_port_is_a_loopback_port() -> None:
    """free_port() returns a usable unprivileged port."""
    assert 1024 <= free_port() <= 65535


def test_missing_binary_is_none() -> None:
    """An unknown binary is reported as missing rather than guessed."""
    assert find_binary("authcore-no-such-server") is None


def test_redis_server_answers(redis_server: RedisServer) -> None:
    """The session Redis answers PING on its loopback port."""
    import redis  # noqa: PLC0415 - optional dependency

    client = redis.Redis.from_url(redis_server.url)
    try:
        assert client.ping()
    finally:
        client.close()


def test_redis_cluster_refuses_cross_slot_scripts(redis_cluster: RedisCluster) -> None:
    """The 3-node cluster is real: a node refuses a script touching two slots (CROSSSLOT)."""
    import redis  # noqa: PLC0415 - optional dependency
    from redis.cluster import RedisCluster as Client  # noqa: PLC0415

    client = Client.from_url(redis_cluster.url)
    try:
        assert len(client.get_primaries()) == 3  # type: ignore[no-untyped-call]
        script = "return redis.call('MGET', KEYS[1], KEYS[2])"
        assert client.eval(script, 2, "{x}a", "{x}b") == [None, None]
        node = client.get_node_from_key("{x}a")  # type: ignore[no-untyped-call]
        direct = redis.Redis(host="127.0.0.1", port=int(node.port))
        try:
            with pytest.raises(redis.ResponseError, match="same slot"):
                direct.eval(script, 2, "{x}a", "{y}b")
        finally:
            direct.close()
    finally:
        client.close()


def test_postgres_server_answers(postgres_server: PostgresServer) -> None:
    """The throwaway PostgreSQL cluster accepts connections on loopback."""
    import psycopg  # noqa: PLC0415 - optional dependency

    with psycopg.connect(postgres_server.dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
