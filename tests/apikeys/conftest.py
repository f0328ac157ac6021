"""Fixtures for the API key, rate-limit and store tests."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest

from authcore.apikeys import KeyHasher, KeyManager, KeyStore, _hashing
from authcore.clock import FixedClock
from authcore.stores.memory import MemoryKeyStore, MemoryRateLimitStore
from authcore.stores.sqlite import SQLiteKeyStore

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from cryptography.hazmat.primitives.hmac import HMAC

START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
PEPPER = b"p" * 32


@pytest.fixture
def clock() -> FixedClock:
    """A clock that moves only when a test says so."""
    return FixedClock(START)


@pytest.fixture
def hasher() -> KeyHasher:
    """A hasher with one 32-byte pepper."""
    return KeyHasher({"p1": PEPPER})


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeyStore]:
    """Each key store implementation."""
    if request.param == "memory":
        yield MemoryKeyStore()
        return
    sqlite_store = SQLiteKeyStore(tmp_path / "keys.db")
    yield sqlite_store
    sqlite_store.close()


@pytest.fixture
def manager(store: KeyStore, hasher: KeyHasher, clock: FixedClock) -> KeyManager:
    """A manager over each store, with a memory rate limiter."""
    return KeyManager(store, hasher, prefix="sk_test", clock=clock, limiter=MemoryRateLimitStore())


@pytest.fixture
def hash_work(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The MAC checks (one HMAC and one constant-time comparison each) KeyHasher does."""
    calls: list[str] = []
    real_check = _hashing._mac_matches

    def counting_check(keyed: HMAC, message: bytes, expected: bytes) -> bool:
        calls.append("mac check")
        return real_check(keyed, message, expected)

    monkeypatch.setattr(_hashing, "_mac_matches", counting_check)
    return calls
