"""What every Redis store module shares: error translation and key-prefix checks.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import redis
from redis.exceptions import RedisClusterException, RedisError

from authcore.errors import ConfigurationError, StoreError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["check_prefix", "store_error", "translated"]


def store_error(exc: Exception) -> StoreError:
    """A :class:`StoreError` naming what failed (the error class and Redis's error code)."""
    detail = type(exc).__name__
    if isinstance(exc, redis.ResponseError) and str(exc):
        detail += f" {str(exc).split(' ', 1)[0]}"  # the error code (OOM, CROSSSLOT, ...)
    return StoreError(f"redis {detail}")


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Turn every Redis error raised in the block into a :class:`StoreError`."""
    try:
        yield
    except (RedisError, RedisClusterException) as exc:
        raise store_error(exc) from None
    except UnicodeEncodeError:  # redis-py encodes keys and ids as UTF-8
        raise ConfigurationError("keys and ids must be encodable as UTF-8") from None


def check_prefix(prefix: object) -> str:
    """Return ``prefix`` if it is a non-empty str without hash-tag braces."""
    if not isinstance(prefix, str) or not prefix or "{" in prefix or "}" in prefix:
        raise ConfigurationError("prefix must be a non-empty str without '{' or '}'")
    return prefix
