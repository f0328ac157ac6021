"""Fixtures for the API key, rate-limit and store tests."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, cast

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


class _CountingHMAC:
    """A keyed HMAC whose copies record each constant-time tag comparison."""

    def __init__(self, inner: HMAC, calls: list[str]) -> None:
        self._inner = inner
        self._calls = calls

    def copy(self) -> _CountingHMAC:
        return _CountingHMAC(self._inner.copy(), self._calls)

    def update(self, message: bytes) -> None:
        self._inner.update(message)

    def finalize(self) -> bytes:
        return self._inner.finalize()

    def verify(self, expected: bytes) -> None:
        self._calls.append("mac check")
        self._inner.verify(expected)


@pytest.fixture
def hash_work(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The MAC checks (one HMAC and one constant-time comparison each) KeyHasher does.

    Hashers built while the fixture is active key counting HMACs, however the hasher's code
    is arranged around them.
    """
    calls: list[str] = []
    real_keyed = _hashing._keyed

    def counting_keyed(pepper: bytes) -> HMAC:
        return cast("HMAC", _CountingHMAC(real_keyed(pepper), calls))

    monkeypatch.setattr(_hashing, "_keyed", counting_keyed)
    return calls
