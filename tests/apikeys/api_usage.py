"""Type-checked, never run: the API key API as users write it (see tests/typing/api_usage.py)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from authcore.apikeys import (
    HashCheck,
    IssuedKey,
    KeyChange,
    KeyHasher,
    KeyManager,
    KeyRecord,
    KeyStatus,
    KeyStore,
    ParsedKey,
    Usage,
    generate,
    parse,
)
from authcore.errors import InvalidCredentials, RateLimited, VerificationError
from authcore.ratelimit import GCRA, Decision, RateLimitStore
from authcore.stores.memory import MemoryKeyStore, MemoryRateLimitStore
from authcore.stores.sqlite import SQLiteKeyStore, SQLiteRateLimitStore

if TYPE_CHECKING:
    from collections.abc import Mapping


class DictStore:
    """A user-written store satisfies KeyStore structurally, without subclassing."""

    def __init__(self) -> None:
        self.records: dict[str, KeyRecord] = {}
        self.usage: dict[str, Usage] = {}

    def get(self, key_id: str) -> KeyRecord | None:
        return self.records.get(key_id)

    def list_owner(self, owner: str) -> tuple[KeyRecord, ...]:
        return tuple(r for r in self.records.values() if r.owner == owner)

    def add(self, record: KeyRecord) -> None:
        self.records[record.key_id] = record

    def update(self, key_id: str, change: KeyChange) -> tuple[KeyRecord, ...]:
        written = change(self.records[key_id])
        self.records.update((r.key_id, r) for r in written)
        return written

    def consume_use(self, key_id: str) -> int | None:
        left = self.records[key_id].remaining_uses
        return None if not left else left - 1

    def record_usage(self, usage: Mapping[str, Usage]) -> None:
        self.usage = dict(usage)


def managers(pepper: bytes) -> list[KeyManager]:
    """Every store works with KeyManager."""
    hasher = KeyHasher({"p1": pepper})
    stores: list[KeyStore] = [MemoryKeyStore(), SQLiteKeyStore("keys.db"), DictStore()]
    limiter: RateLimitStore = SQLiteRateLimitStore("keys.db")
    return [KeyManager(s, hasher, prefix="sk_live", limiter=limiter) for s in stores]


def issue_and_check(manager: KeyManager, now: dt.datetime) -> str | None:
    """Issue, verify and rotate; return the owner or None."""
    issued: IssuedKey = manager.create(
        owner="acct", scopes=("read",), expires_at=now, rate_limit=GCRA(10, 60, 5)
    )
    parsed: ParsedKey = parse(issued.token, prefix="sk_live")
    try:
        record: KeyRecord = manager.verify(issued.token, scopes=["read"])
    except RateLimited as exc:
        retry: float = exc.retry_after
        return str(retry)
    except VerificationError:
        return None
    successor: IssuedKey = manager.rotate(parsed.key_id, grace=dt.timedelta(hours=1))
    status: KeyStatus = successor.record.status
    flushed: int = manager.flush()
    return f"{record.owner}{status.value}{flushed}"


def hashing(pepper: bytes) -> bool:
    """Hash and verify a generated key's secret."""
    key = generate("pk_test")
    hasher = KeyHasher({"old": pepper, "new": pepper + b"!"})
    try:
        check: HashCheck = hasher.verify(key.secret, hasher.hash(key.secret))
    except InvalidCredentials:
        return False
    return check.needs_rehash


def limits(now: dt.datetime) -> dict[str, str]:
    """Use GCRA on its own."""
    decision: Decision = GCRA(100, dt.timedelta(minutes=1)).hit(
        MemoryRateLimitStore(), "ip:203.0.113.7", now=now
    )
    return decision.headers()
