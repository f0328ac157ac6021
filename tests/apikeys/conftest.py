"""Fixtures for the API key, rate-limit and store tests."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest

from authcore._ct import bytes_eq
from authcore.apikeys import KeyHasher, KeyManager, KeyStore, _hashing
from authcore.clock import FixedClock
from authcore.stores.memory import MemoryKeyStore, MemoryRateLimitStore
from authcore.stores.sqlite import SQLiteKeyStore

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

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
    """The list of HMACs ("hmac") and digest comparisons ("eq") KeyHasher does, in order."""
    calls: list[str] = []
    real_hmac = _hashing._hmac_sha256

    def counting_hmac(key: bytes, message: bytes) -> bytes:
        calls.append("hmac")
        return real_hmac(key, message)

    def counting_eq(a: bytes, b: bytes) -> bool:
        calls.append("eq")
        return bytes_eq(a, b)

    monkeypatch.setattr(_hashing, "_hmac_sha256", counting_hmac)
    monkeypatch.setattr(_hashing, "bytes_eq", counting_eq)
    return calls
