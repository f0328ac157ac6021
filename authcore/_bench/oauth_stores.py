"""OAuth grant stores: the store operations of one authorization-code flow, per backend.

One operation is what :class:`~authcore.oauth.AuthorizationServer` asks of its grant store for
one code: insert it at the authorization endpoint, then, at the token endpoint, read it and
apply the redemption (compare-and-set the code to redeemed, create the family, insert the
access and refresh token records) as one atomic apply.  The floor is the memory store (dicts
under one lock); SQLite runs on a temporary file.

Redis and PostgreSQL are measured when ``AUTHCORE_BENCH_REDIS_URL`` (``redis://...``) and
``AUTHCORE_BENCH_POSTGRES_DSN`` (``postgresql://...``) name a reachable server; otherwise the
group's note says why they were left out.  Each run writes under a fresh key prefix (Redis)
or into the ``authcore_oauth_*`` tables (PostgreSQL: use a throwaway database).
"""

from __future__ import annotations

import atexit
import dataclasses
import itertools
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from authcore._bench import Group
from authcore.errors import AuthcoreError
from authcore.oauth import (
    AccessToken,
    AuthorizationCode,
    Family,
    Insert,
    RefreshToken,
    SaveFamily,
    Update,
    lifecycle,
)
from authcore.stores.memory import MemoryGrantStore
from authcore.stores.sqlite import SQLiteGrantStore

if TYPE_CHECKING:
    from collections.abc import Callable

    from authcore.oauth import Effect, GrantStore

NAME = "oauth_stores"

_NOW = 1_800_000_000.0


def _flow(store: GrantStore, tag: str) -> Callable[[], object]:
    """One code issued and redeemed per call, with fresh digests each time."""
    counter = itertools.count()

    def run() -> object:
        n = next(counter)
        family_id = f"{tag}f{n}"
        code = AuthorizationCode(
            digest=f"{tag}c{n}",
            family_id=family_id,
            client_id="web",
            subject="alice",
            scope=("read",),
            redirect_uri="https://app.example/cb",
            redirect_uri_sent=True,
            code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            code_challenge_method="S256",
            issued_at=_NOW,
            expires_at=_NOW + 60,
        )
        if not store.apply([Insert(record=code)]):
            raise AssertionError("a fresh code could not be inserted")
        stored = store.get(code.digest)
        if stored != code:
            raise AssertionError("the stored code differs")
        redeemed = dataclasses.replace(code, state=lifecycle.CodeState.REDEEMED, version=2)
        family = Family(
            family_id=family_id,
            client_id="web",
            subject="alice",
            scope=("read",),
            created_at=_NOW,
            expires_at=_NOW + 86_400,
        )
        access = AccessToken(
            digest=f"{tag}a{n}",
            family_id=family_id,
            client_id="web",
            subject="alice",
            scope=("read",),
            issued_at=_NOW,
            expires_at=_NOW + 300,
        )
        refresh = RefreshToken(
            digest=f"{tag}r{n}",
            family_id=family_id,
            client_id="web",
            scope=("read",),
            issued_at=_NOW,
            expires_at=_NOW + 86_400,
            last_used_at=_NOW,
        )
        effects: list[Effect] = [
            Update(record=redeemed, expected_version=1),
            SaveFamily(family=family, expected_version=None),
            Insert(record=access),
            Insert(record=refresh),
        ]
        if not store.apply(effects):
            raise AssertionError("the redemption conflicted")
        if store.apply(effects):  # a replay must lose
            raise AssertionError("a code was redeemed twice")
        return True

    return run


def _redis(url: str, tag: str) -> GrantStore:
    from authcore.stores import redis  # noqa: PLC0415 - optional dependency

    client = redis.connect(url, timeout=2.0)
    atexit.register(client.close)
    return redis.RedisGrantStore(client, prefix=f"authcore-bench-{tag}:", retain=60)


def _postgres(dsn: str) -> GrantStore:
    from authcore.stores import postgres  # noqa: PLC0415 - optional dependency

    store = postgres.PostgresGrantStore(dsn, timeout=5.0)
    atexit.register(store.close)
    return store


def groups(quick: bool) -> list[Group]:  # noqa: FBT001 - suite protocol
    """The code flow's store operations on memory, SQLite, and Redis/PostgreSQL if reachable."""
    del quick  # every case is one flow; the runner decides how long to time it
    tag = f"{os.getpid()}-{os.urandom(4).hex()}-"
    directory = tempfile.mkdtemp(prefix="authcore-bench-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    sqlite = SQLiteGrantStore(Path(directory) / "oauth.db")
    atexit.register(sqlite.close)
    stores: dict[str, GrantStore] = {"memory": MemoryGrantStore(), "SQLite": sqlite}
    notes: list[str] = []
    servers = (
        ("Redis", "AUTHCORE_BENCH_REDIS_URL", lambda target: _redis(target, tag)),
        ("PostgreSQL", "AUTHCORE_BENCH_POSTGRES_DSN", _postgres),
    )
    for name, variable, build in servers:
        target = os.environ.get(variable)
        if not target:
            notes.append(f"{name} skipped: {variable} is not set")
            continue
        try:
            store = build(target)
            _flow(store, tag + "check")()
        except (AuthcoreError, ImportError) as exc:
            notes.append(f"{name} skipped: unreachable ({type(exc).__name__})")
            continue
        stores[name] = store
    cases = {name: _flow(store, f"{tag}{name}:") for name, store in stores.items()}
    for case in cases.values():
        case()  # smoke check: issue, redeem, refuse the replay
    note = "the memory store (dicts under one lock); one op = insert + get + redeem + replay"
    return [
        Group(
            name="OAuth code flow, store operations",
            floor="memory",
            cases=cases,
            note="; ".join([note, *notes]),
        )
    ]
