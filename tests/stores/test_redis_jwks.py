"""The JWKS fetch shared through Redis: one origin download per refresh across processes."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import json
import logging
from typing import TYPE_CHECKING, Any

import pytest

from authcore.clock import FixedClock
from authcore.errors import ConfigurationError, FetchError
from authcore.jose import JWK
from authcore.jose.jwks import AsyncJWKSCache, JWKSCache

from .conftest import need_module

if TYPE_CHECKING:
    from authcore.jose.jwks import JWKSData

    from .servers import RedisServer

need_module("redis")

from authcore.stores.redis import (  # noqa: E402 - after the skip check
    AsyncRedisJWKSFetch,
    RedisJWKSFetch,
    connect,
    connect_async,
)

T0 = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
URL = "https://issuer.example/.well-known/jwks.json"


class Origin:
    """The identity provider: a JWK Set that can change, and a download counter."""

    def __init__(self) -> None:
        self.keys = [JWK.generate("ES256", kid="k1")]
        self.downloads = 0

    def publish(self, kid: str) -> None:
        self.keys.append(JWK.generate("ES256", kid=kid))

    def __call__(self) -> bytes:
        self.downloads += 1
        return json.dumps({"keys": [k.to_dict() for k in self.keys]}).encode()


def test_processes_share_downloads(redis_client: Any, redis_prefix: str) -> None:
    """Three caches: one download serves all; a new kid and a TTL refresh are shared too."""
    origin, clock = Origin(), FixedClock(T0)
    caches = [
        JWKSCache(
            RedisJWKSFetch(redis_client, origin, name=URL, prefix=redis_prefix, max_age=300),
            ttl=600,
            cooldown=30,
            clock=clock,
        )
        for _ in range(3)
    ]
    assert all(cache.get("k1") is not None for cache in caches)
    assert origin.downloads == 1

    origin.publish("k2")  # a token names a kid the shared copy lacks
    clock.advance(31)  # past the caches' cooldown
    assert caches[0].get("k2") is not None
    assert origin.downloads == 2  # the cache asked again: the origin, not the old copy
    assert caches[1].get("k2") is not None  # the fresh shared copy, no download
    assert origin.downloads == 2

    clock.advance(600)  # every TTL ran out
    for cache in caches:  # the first downloads (it has the stored copy), the others reuse it
        cache.keys()
    assert origin.downloads == 3


def test_redis_failure_falls_back_to_the_origin(
    redis_server: RedisServer, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """With Redis unreachable every fetch goes to the origin, with a warning, never an error."""
    origin = Origin()
    client = connect(redis_server.url.replace(str(redis_server.port), "1"), timeout=0.2)
    try:
        fetch = RedisJWKSFetch(client, origin, name=URL, prefix=redis_prefix)
        with caplog.at_level(logging.WARNING, logger="authcore.stores.redis"):
            assert json.loads(fetch())["keys"][0]["kid"] == "k1"
        assert origin.downloads == 1
        assert "using the origin" in caplog.text
    finally:
        client.close()


def test_origin_errors_propagate_and_nothing_is_stored(
    redis_client: Any, redis_prefix: str
) -> None:
    """A failed download raises as the origin did; the next process still downloads."""

    def failing() -> bytes:
        raise FetchError("status 503")

    with pytest.raises(FetchError):
        RedisJWKSFetch(redis_client, failing, name=URL, prefix=redis_prefix)()
    origin = Origin()
    RedisJWKSFetch(redis_client, origin, name=URL, prefix=redis_prefix)()
    assert origin.downloads == 1


def test_hostile_or_foreign_values_are_ignored(redis_client: Any, redis_prefix: str) -> None:
    """Garbage, an unknown format or an oversized value under the key: the origin is asked."""
    origin = Origin()
    fetch = RedisJWKSFetch(redis_client, origin, name=URL, prefix=redis_prefix, max_bytes=4096)
    fetch()  # stores a copy
    key = f"{redis_prefix}jwks:{hashlib.sha256(URL.encode()).hexdigest()}"
    good = redis_client.get(key)
    assert good.startswith(b"authcore-jwks-1 ")
    for value in (
        b"garbage",
        b"authcore-jwks-1 short\n{}",
        b"authcore-jwks-1 " + b"a" * 32 + b"no newline",
        good[: 16 + 33] + b"x" * 10_000,  # over max_bytes: read bounded, ignored
    ):
        redis_client.set(key, value)
        before = origin.downloads
        other = RedisJWKSFetch(redis_client, origin, name=URL, prefix=redis_prefix, max_bytes=4096)
        assert json.loads(other())["keys"][0]["kid"] == "k1"
        assert origin.downloads == before + 1


def test_large_documents_are_returned_but_not_shared(redis_client: Any, redis_prefix: str) -> None:
    """A download over max_bytes serves its own process; nothing is stored for others."""
    origin = Origin()
    for i in range(20):
        origin.publish(f"k{i + 2}")
    first = RedisJWKSFetch(redis_client, origin, name=URL, prefix=redis_prefix, max_bytes=1024)
    second = RedisJWKSFetch(redis_client, origin, name=URL, prefix=redis_prefix, max_bytes=1024)
    assert len(first()) > 1024
    second()
    assert origin.downloads == 2


def test_mapping_and_text_documents(redis_client: Any, redis_prefix: str) -> None:
    """An origin returning a mapping or text is stored as JSON bytes, read back equal."""
    doc = {"keys": [JWK.generate("EdDSA", kid="e1").to_dict()]}
    for data in (doc, json.dumps(doc)):
        prefix = f"{redis_prefix}{type(data).__name__}:"
        RedisJWKSFetch(redis_client, functools.partial(_same, data), name=URL, prefix=prefix)()
        shared = RedisJWKSFetch(redis_client, _never, name=URL, prefix=prefix)()
        assert json.loads(shared) == doc


def _same(data: JWKSData) -> JWKSData:
    return data


def _never() -> bytes:
    raise AssertionError("the origin was asked although a shared copy exists")


def test_bad_configuration() -> None:
    """Bad options are ConfigurationErrors at construction."""
    origin = Origin()
    for kwargs in (
        {"name": ""},
        {"name": URL, "max_age": 0},
        {"name": URL, "max_age": True},
        {"name": URL, "max_age": "300"},
        {"name": URL, "max_age": 10**10},
        {"name": URL, "max_bytes": 0},
        {"name": URL, "prefix": "a{b}"},
    ):
        with pytest.raises(ConfigurationError):
            RedisJWKSFetch(None, origin, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        RedisJWKSFetch(None, "not callable", name=URL)  # type: ignore[arg-type]
    fetch = RedisJWKSFetch(None, origin, name=URL, max_age=dt.timedelta(minutes=1))  # type: ignore[arg-type]
    assert "RedisJWKSFetch" in repr(fetch)


def test_async_variant(redis_server: RedisServer, redis_prefix: str) -> None:
    """The async wrapper shares downloads between AsyncJWKSCache instances the same way."""
    origin, clock = Origin(), FixedClock(T0)

    async def download() -> bytes:
        return origin()

    assert "AsyncRedisJWKSFetch" in repr(AsyncRedisJWKSFetch(None, download, name=URL))  # type: ignore[arg-type]

    async def scenario() -> None:
        client = connect_async(redis_server.url)
        try:
            caches = [
                AsyncJWKSCache(
                    AsyncRedisJWKSFetch(client, download, name=URL, prefix=redis_prefix),
                    clock=clock,
                )
                for _ in range(3)
            ]
            for cache in caches:
                assert await cache.aget("k1") is not None
            origin.publish("k2")
            clock.advance(31)
            assert await caches[0].aget("k2") is not None  # a new kid: the origin
            assert await caches[1].aget("k2") is not None  # shared
        finally:
            await client.aclose()

    asyncio.run(scenario())
    assert origin.downloads == 2
