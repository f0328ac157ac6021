"""The grant stores: one contract over memory and SQLite, and exactly-once under concurrency."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import multiprocessing
import threading
from typing import TYPE_CHECKING

import pytest

from authcore._sqlite import SQLiteDatabase
from authcore.errors import ConfigurationError, StoreError
from authcore.oauth import (
    AccessToken,
    AsyncAuthorizationServer,
    AuthorizationCode,
    ClientRecord,
    Family,
    GrantStore,
    Insert,
    PendingAuthorization,
    Policy,
    RevokeFamily,
    SaveFamily,
    TokenFormat,
    Update,
    decode_client,
    encode_client,
    lifecycle,
)
from authcore.stores.memory import (
    AsyncMemoryClientStore,
    AsyncMemoryGrantStore,
    MemoryClientStore,
    MemoryGrantStore,
)
from authcore.stores.sqlite import (
    OAUTH_SCHEMA,
    AsyncSQLiteClientStore,
    AsyncSQLiteGrantStore,
    SQLiteClientStore,
    SQLiteGrantStore,
)

from .helpers import (
    CLIENTS,
    TOKEN_URL,
    authorize_request,
    body,
    code_params,
    get_code,
    make_env,
    post,
    redeem,
    refresh,
    tokens,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from .helpers import Env

THREADS = 8
PROCESSES = 4


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GrantStore]:
    """Each backend, fresh."""
    if request.param == "memory":
        yield MemoryGrantStore()
    else:
        sqlite = SQLiteGrantStore(tmp_path / "oauth.db")
        yield sqlite
        sqlite.close()


def _code(digest: str = "d1", version: int = 1) -> AuthorizationCode:
    return AuthorizationCode(
        digest=digest,
        family_id="f1",
        client_id="web",
        subject="alice",
        scope=("read",),
        redirect_uri="https://app.example/cb",
        redirect_uri_sent=True,
        code_challenge=None,
        code_challenge_method=None,
        issued_at=0.0,
        expires_at=60.0,
        version=version,
    )


def _family(version: int = 1, *, revoked: bool = False) -> Family:
    return Family(
        family_id="f1",
        client_id="web",
        subject="alice",
        scope=("read",),
        created_at=0.0,
        expires_at=100.0,
        version=version,
        revoked=revoked,
    )


def test_insert_get_round_trip(store: GrantStore) -> None:
    """A record comes back equal, with its state enum."""
    assert store.apply([Insert(record=_code())])
    assert store.get("d1") == _code()
    assert store.get("missing") is None
    assert store.get("\ud800") is None


def test_insert_conflicts_on_existing_digest(store: GrantStore) -> None:
    """A second insert of one digest fails and writes nothing."""
    assert store.apply([Insert(record=_code())])
    assert not store.apply(
        [SaveFamily(family=_family(), expected_version=None), Insert(record=_code())]
    )
    assert store.family("f1") is None


def test_update_is_compare_and_set(store: GrantStore) -> None:
    """An update with a stale version fails; the right version succeeds."""
    store.apply([Insert(record=_code())])
    redeemed = dataclasses.replace(_code(version=2), state=lifecycle.CodeState.REDEEMED)
    assert not store.apply([Update(record=redeemed, expected_version=5)])
    assert store.apply([Update(record=redeemed, expected_version=1)])
    assert not store.apply([Update(record=redeemed, expected_version=1)])
    stored = store.get("d1")
    assert isinstance(stored, AuthorizationCode)
    assert stored.state is lifecycle.CodeState.REDEEMED


def _as_dict(code: AuthorizationCode) -> dict[str, object]:
    return {f.name: getattr(code, f.name) for f in dataclasses.fields(code)}


def test_update_of_missing_record_conflicts(store: GrantStore) -> None:
    """Updating a record that does not exist is a conflict."""
    assert not store.apply([Update(record=_code(), expected_version=1)])


def test_families_and_revocation(store: GrantStore) -> None:
    """SaveFamily creates once; RevokeFamily marks it, or leaves a revoked tombstone."""
    assert store.apply([SaveFamily(family=_family(), expected_version=None)])
    assert not store.apply([SaveFamily(family=_family(), expected_version=None)])
    assert store.apply([RevokeFamily(family_id="f1", client_id="web", at=1.0)])
    family = store.family("f1")
    assert family is not None
    assert family.revoked
    assert family.version == 2
    assert store.apply([RevokeFamily(family_id="f2", client_id="web", at=1.0)])
    tombstone = store.family("f2")
    assert tombstone is not None
    assert tombstone.revoked
    renamed = dataclasses.replace(_family(), family_id="f2")
    assert not store.apply([SaveFamily(family=renamed, expected_version=None)])


def test_all_or_nothing(store: GrantStore) -> None:
    """A failing precondition late in the list leaves earlier writes unapplied."""
    access = AccessToken(
        digest="a1",
        family_id="f1",
        client_id="web",
        subject=None,
        scope=(),
        issued_at=0.0,
        expires_at=10.0,
    )
    assert not store.apply([Insert(record=access), Update(record=_code(), expected_version=1)])
    assert store.get("a1") is None


def test_sqlite_schema_is_its_own_component(tmp_path: Path) -> None:
    """The oauth schema migrates into a shared database and reports its version."""
    db = SQLiteDatabase(tmp_path / "shared.db", schemas=[OAUTH_SCHEMA])
    SQLiteGrantStore(db)
    clients = SQLiteClientStore(db)
    assert db.schema_version("oauth") == OAUTH_SCHEMA.latest == 2
    record = ClientRecord.from_metadata(CLIENTS["web"])
    clients.add(record)
    assert clients.get("web") == record
    assert clients.get("nobody") is None
    db.close()


def test_client_codec_round_trips_every_client() -> None:
    """Every standard client survives the JSON form unchanged."""
    for metadata in CLIENTS.values():
        record = ClientRecord.from_metadata(metadata)
        assert decode_client(encode_client(record)) == record
    with pytest.raises(StoreError):
        decode_client(b"{}")


def test_server_over_sqlite(tmp_path: Path) -> None:
    """The whole code + refresh flow runs over the SQLite store."""
    env = make_env(store=SQLiteGrantStore(tmp_path / "flow.db"))
    first = tokens(env)
    second = body(refresh(env, first["refresh_token"]))
    assert refresh(env, first["refresh_token"]).status == 400
    assert refresh(env, second["refresh_token"]).status == 400


def _race(count: int, action: Callable[[], int]) -> list[int]:
    barrier = threading.Barrier(count)
    results: list[int] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        status = action()
        with lock:
            results.append(status)

    workers = [threading.Thread(target=run) for _ in range(count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return results


def _redeem_status(env: Env, code: str) -> int:
    return redeem(env, code).status


def _refresh_status(env: Env, token: str) -> int:
    return refresh(env, token).status


def _env_for(kind: str, tmp_path: Path, round_: int) -> Env:
    if kind == "memory":
        return make_env()
    return make_env(store=SQLiteGrantStore(tmp_path / f"race{round_}.db"))


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_threads_redeeming_one_code_exactly_one_wins(kind: str, tmp_path: Path) -> None:
    """8 threads redeem one code: exactly one 200, every time (3.2.4)."""
    for round_ in range(5):
        env = _env_for(kind, tmp_path, round_)
        code = get_code(env)
        results = _race(THREADS, functools.partial(_redeem_status, env, code))
        assert sorted(results) == [200] + [400] * (THREADS - 1)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_threads_rotating_one_refresh_token_exactly_one_wins(kind: str, tmp_path: Path) -> None:
    """8 threads rotate one refresh token: one 200, and no two live successors (3.4.6)."""
    for round_ in range(5):
        env = _env_for(kind, tmp_path, round_)
        token = tokens(env)["refresh_token"]
        results = _race(THREADS, functools.partial(_refresh_status, env, token))
        assert sorted(results) == [200] + [400] * (THREADS - 1)


# ----------------------------------------------------------------------------- processes


def _worker(path: str, code: str, kind: str, barrier: object, queue: object) -> None:
    """Redeem ``code`` (or rotate a refresh token) in a separate process."""
    env = make_env(
        store=SQLiteGrantStore(path),
        policy=Policy(scopes=("read", "write"), access_token_format=TokenFormat.OPAQUE),
    )
    barrier.wait()  # type: ignore[attr-defined]
    status = redeem(env, code).status if kind == "code" else refresh(env, code).status
    queue.put(status)  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["code", "refresh"])
def test_processes_exactly_one_wins(kind: str, tmp_path: Path) -> None:
    """4 processes redeem one code / rotate one refresh token on SQLite: exactly one wins."""
    context = multiprocessing.get_context("spawn")
    for round_ in range(2):
        path = str(tmp_path / f"proc{round_}.db")
        env = make_env(
            store=SQLiteGrantStore(path),
            policy=Policy(scopes=("read", "write"), access_token_format=TokenFormat.OPAQUE),
        )
        secret = get_code(env) if kind == "code" else tokens(env)["refresh_token"]
        barrier = context.Barrier(PROCESSES)
        queue = context.Queue()
        processes = [
            context.Process(target=_worker, args=(path, secret, kind, barrier, queue))
            for _ in range(PROCESSES)
        ]
        for process in processes:
            process.start()
        results = [queue.get(timeout=120) for _ in processes]
        for process in processes:
            process.join(timeout=60)
            assert process.exitcode == 0
        assert sorted(results) == [200] + [400] * (PROCESSES - 1)


def test_async_server_over_sqlite(tmp_path: Path) -> None:
    """The async faces of the SQLite stores serve AsyncAuthorizationServer."""
    path = tmp_path / "async.db"
    clients = SQLiteClientStore(path)
    for metadata in CLIENTS.values():
        clients.add(ClientRecord.from_metadata(metadata))
    sync = make_env()
    server = AsyncAuthorizationServer(
        issuer=sync.server.issuer,
        clients=AsyncSQLiteClientStore(clients),
        store=AsyncSQLiteGrantStore(SQLiteGrantStore(path)),
        keys=sync.server.keys,
        policy=sync.server.policy,
        rate_limits=sync.server.rate_limits,
        clock=sync.clock,
    )

    async def flow() -> int:
        pending = await server.begin_authorization(authorize_request(**code_params()))
        assert isinstance(pending, PendingAuthorization)
        response = await server.complete_authorization(pending, subject="u")
        assert response.status == 302
        return (
            await server.token_endpoint(post(TOKEN_URL, {"grant_type": "client_credentials"}))
        ).status

    assert asyncio.run(flow()) == 200


def test_purge_deletes_only_expired_records(store: GrantStore) -> None:
    """purge(before=) drops records that expired before the cut-off and keeps the rest."""
    assert isinstance(store, (MemoryGrantStore, SQLiteGrantStore))
    store.apply([Insert(record=_code("old")), Insert(record=_code("new"))])
    fresh = dataclasses.replace(_code("later"), expires_at=500.0)
    store.apply([Insert(record=fresh)])
    assert store.purge(before=100.0) == 2
    assert store.get("old") is None
    assert store.get("later") == fresh


@pytest.mark.parametrize(
    "build",
    [
        lambda: AsyncMemoryClientStore([ClientRecord.from_metadata(CLIENTS["web"])]),  # type: ignore[arg-type]
        lambda: AsyncMemoryGrantStore({}),  # type: ignore[arg-type]
        lambda: MemoryClientStore(ClientRecord.from_metadata(CLIENTS["web"])),  # type: ignore[arg-type]
        lambda: MemoryClientStore(42),  # type: ignore[arg-type]
        lambda: MemoryClientStore("abc"),  # type: ignore[arg-type]
    ],
    ids=["async-client-list", "async-grant-dict", "one-record", "int", "str"],
)
def test_memory_stores_refuse_a_wrong_argument_at_construction(build: Callable[[], object]) -> None:
    """A misplaced argument is a ConfigurationError at once, not an AttributeError at first use."""
    with pytest.raises(ConfigurationError, match=r"Memory(Client|Grant)Store"):
        build()
