"""`authcore bench --suite stores` against real Redis and PostgreSQL servers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from authcore._bench import run_group
from authcore._bench import stores as suite

from .conftest import need_module

if TYPE_CHECKING:
    import pytest

    from .servers import RedisServer

need_module("redis", "psycopg", "psycopg_pool", "limits")


def test_every_backend_and_limits_are_measured(
    redis_server: RedisServer, postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With both servers named, every backend has a row, and limits runs on the same Redis."""
    monkeypatch.setenv("AUTHCORE_BENCH_REDIS_URL", redis_server.url)
    monkeypatch.setenv("AUTHCORE_BENCH_POSTGRES_DSN", postgres_dsn)
    groups = {group.name: group for group in suite.groups(True)}  # smoke-checks every case
    rate = groups["Rate-limit decision (GCRA) per backend"]
    assert set(rate.cases) == {
        "memory",
        "SQLite",
        "Redis",
        "PostgreSQL",
        "limits moving window (Redis)",
    }
    assert set(groups["KeyManager.verify per backend"].cases) == {
        "memory",
        "SQLite",
        "Redis",
        "PostgreSQL",
    }
    shared = [name for name in groups if "client processes" in name]
    assert len(shared) == 9  # three operations on SQLite, Redis and PostgreSQL
    group = groups["API-key verifications on PostgreSQL, 1 vs 2 client processes"]
    result = run_group(group, min_time=0.01, rounds=1)
    assert all(m.median_ops > 0 for m in result.results)
    assert group.batch == 100  # 50 per process, 2 processes under --quick


def test_unreachable_servers_are_left_out_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that does not answer is skipped with its reason, not a failure."""
    monkeypatch.setenv("AUTHCORE_BENCH_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("AUTHCORE_BENCH_POSTGRES_DSN", "host=127.0.0.1 port=1 connect_timeout=1")
    found, notes = suite._connected("unreachable-")
    assert set(found) == {"memory", "SQLite"}
    assert any(n.startswith("Redis skipped: unreachable") for n in notes)
    assert any(n.startswith("PostgreSQL skipped: unreachable") for n in notes)
