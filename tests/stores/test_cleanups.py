"""The stores' periodic clean-ups: expired rows go, at most ``PRUNE_FACTOR * every`` at a time.

A burst of rows that expire together must not be deleted inside one caller's request (for
SQLite, under the write lock every process waits for); a bounded clean-up still drains it,
since each deletes more rows than were written since the last.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from typing import TYPE_CHECKING

from authcore._sqlite import PRUNE_FACTOR
from authcore.ratelimit import GCRA
from authcore.stores.sqlite import SQLiteOneTimeStore, SQLiteRateLimitStore

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

START = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.timezone.utc)
LATER = START + dt.timedelta(hours=2)
BURST = 20
EVERY = 2
LIMIT = GCRA(3, 3600)


def drain_counts(write: Callable[[str, dt.datetime], None], rows: Callable[[], int]) -> list[int]:
    """Write a burst at START that has expired by LATER, then pairs of fresh rows at LATER.

    The store cleans up every EVERY writes; returns the row count after each later pair.
    """
    for i in range(BURST):
        write(f"burst-{i}", START)
    assert rows() == BURST  # nothing had expired at START
    counts = []
    for pair in range(3):
        for j in range(EVERY):
            write(f"fresh-{pair}-{j}", LATER)
        counts.append(rows())
    return counts


def expected_counts() -> list[int]:
    """Each clean-up takes at most PRUNE_FACTOR * EVERY of the burst, until it is gone."""
    left, fresh, counts = BURST, 0, []
    for _ in range(3):
        left = max(0, left - PRUNE_FACTOR * EVERY)
        fresh += EVERY
        counts.append(left + fresh)
    return counts


def test_expected_counts_show_a_bounded_drain() -> None:
    """The expectation itself: bounded (not all at once), then drained."""
    assert expected_counts() == [14, 8, 6]


def _count(path: Path, table: str) -> Callable[[], int]:
    def rows() -> int:
        with contextlib.closing(sqlite3.connect(path)) as conn:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608

    return rows


def test_sqlite_one_time_cleanup_is_bounded_and_drains(tmp_path: Path) -> None:
    path = tmp_path / "once.db"
    store = SQLiteOneTimeStore(path, purge_every=EVERY)

    def write(key: str, now: dt.datetime) -> None:
        assert store.add(key, expires_at=now + dt.timedelta(seconds=60), now=now)

    assert drain_counts(write, _count(path, "authcore_one_time")) == expected_counts()
    store.close()


def test_sqlite_rate_limit_cleanup_is_bounded_and_drains(tmp_path: Path) -> None:
    path = tmp_path / "limits.db"
    store = SQLiteRateLimitStore(path, prune_every=EVERY)

    def write(key: str, now: dt.datetime) -> None:
        now_ns = int(now.timestamp()) * 10**9
        assert store.hit(key, LIMIT, cost=1, now_ns=now_ns).allowed

    assert drain_counts(write, _count(path, "authcore_rate_limits")) == expected_counts()
    store.close()
