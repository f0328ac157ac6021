"""API key records for the store tests (one builder shared by every backend's tests)."""

from __future__ import annotations

import datetime as dt

from authcore.apikeys import KeyRecord
from authcore.ratelimit import GCRA

__all__ = ["START", "make_record"]

START = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)


def make_record(
    key_id: str, *, owner: str = "acct", uses: int | None = None, at: int = 0
) -> KeyRecord:
    """A record with every kind of field set (scopes, metadata, a rate limit, an expiry)."""
    return KeyRecord(
        key_id=key_id,
        prefix="sk",
        owner=owner,
        secret_hash="v1$p$" + "0" * 43,
        scopes=frozenset({"read", "write"}),
        created_at=START + dt.timedelta(seconds=at),
        expires_at=START + dt.timedelta(days=1),
        remaining_uses=uses,
        rate_limit=GCRA(5, 60),
        metadata={"team": "a"},
    )
