"""The one encoding of an API key record as a flat row, shared by the networked stores.

A row is the tuple of :data:`KEY_COLUMNS` (strings, integers and ``None``: times as integer
microseconds since the epoch, scopes/metadata/rate limit as canonical JSON).  The SQLite store
defined it first; the Redis hash fields and the PostgreSQL columns use it unchanged, so a record
reads back identically from every backend.
"""

from __future__ import annotations

from typing import Final

from authcore.stores.sqlite import _micros as micros

# One home for the codec: it lives in the SQLite module, which wrote it first.
# TODO: move _row/_record here and import them from authcore.stores.sqlite instead.
from authcore.stores.sqlite import _record as key_record
from authcore.stores.sqlite import _row as key_row

__all__ = ["INT_COLUMNS", "KEY_COLUMNS", "key_record", "key_row", "micros"]

KEY_COLUMNS: Final = (
    "key_id",
    "prefix",
    "owner",
    "secret_hash",
    "scopes",
    "status",
    "created_us",
    "expires_us",
    "revoked_us",
    "name",
    "metadata",
    "rate_limit",
    "remaining_uses",
    "use_count",
    "last_used_us",
    "replaces",
    "replaced_by",
)
"""Column order of :func:`key_row` and :func:`key_record`."""

INT_COLUMNS: Final = frozenset(
    {"created_us", "expires_us", "revoked_us", "remaining_uses", "use_count", "last_used_us"}
)
"""The integer columns (the rest are text)."""
