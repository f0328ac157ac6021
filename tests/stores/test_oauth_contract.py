"""One OAuth store contract for every backend: memory, SQLite, Redis, Redis Cluster, PostgreSQL.

The semantic tests pin what every :class:`~authcore.oauth.GrantStore` and
:class:`~authcore.oauth.ClientStore` must do (the effects' preconditions, all-or-nothing
apply, families and their revocation); the races make 8 processes (threads for memory)
redeem the same authorization code and rotate the same refresh token through a real
:class:`~authcore.oauth.AuthorizationServer`: exactly one 200 each time, on every backend.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import sys
import threading
from typing import TYPE_CHECKING, Any

import pytest

from authcore.errors import ConfigurationError
from authcore.oauth import (
    AccessToken,
    AuthorizationCode,
    ClientRecord,
    DeviceCode,
    Family,
    Insert,
    PushedRequest,
    RefreshToken,
    RevokeFamily,
    SaveFamily,
    Update,
    UserCode,
    digest,
    lifecycle,
)
from authcore.stores.memory import MemoryClientStore, MemoryGrantStore
from tests.oauth import helpers

from .conftest import need_module
from .test_contract import WORKERS, race_processes
from .workers import (
    OAUTH_ROUNDS,
    Spec,
    close,
    oauth_race,
    oauth_race_process,
    open_oauth_stores,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from authcore.http import Response
    from authcore.oauth import Artefact, ClientStore, GrantStore

BACKENDS = ["memory", "sqlite", "redis", "redis-cluster", "postgres"]


@dataclasses.dataclass
class OAuthBackend:
    """One backend's OAuth stores (and, except for memory, where the racers find it)."""

    name: str
    spec: Spec | None
    grants: GrantStore
    clients: ClientStore
    closers: list[Any]


def _spec(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> Spec | None:
    if name == "sqlite":
        return Spec(backend=name, target=str(tmp_path / "oauth.db"))
    if name in {"redis", "redis-cluster"}:
        need_module("redis")
        server = request.getfixturevalue("redis_server" if name == "redis" else "redis_cluster")
        return Spec(backend=name, target=server.url, prefix=request.getfixturevalue("redis_prefix"))
    if name == "postgres":
        return Spec(backend=name, target=request.getfixturevalue("postgres_dsn"))
    return None


@pytest.fixture(params=BACKENDS)
def oauth(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OAuthBackend]:
    """Each backend in turn, empty."""
    spec = _spec(request.param, request, tmp_path)
    if spec is None:
        backend = OAuthBackend(request.param, None, MemoryGrantStore(), MemoryClientStore(), [])
    else:
        grants, clients, closers = open_oauth_stores(spec)
        backend = OAuthBackend(request.param, spec, grants, clients, closers)
    yield backend
    for item in backend.closers:
        close(item)


def _code(digest_: str = "d1", version: int = 1, family_id: str = "f1") -> AuthorizationCode:
    return AuthorizationCode(
        digest=digest_,
        family_id=family_id,
        client_id="web",
        subject="alice",
        scope=("read",),
        redirect_uri="https://app.example/cb",
        redirect_uri_sent=True,
        code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        code_challenge_method="S256",
        issued_at=1000.0,
        expires_at=1060.0,
        version=version,
    )


def _family(version: int = 1, *, family_id: str = "f1", revoked: bool = False) -> Family:
    return Family(
        family_id=family_id,
        client_id="web",
        subject="alice",
        scope=("read", "write"),
        resource=("https://api.example/",),
        created_at=1000.0,
        expires_at=1000.0 + 86_400,
        cnf=(("x5t#S256", "abc"),),
        version=version,
        revoked=revoked,
    )


def _every_kind(family_id: str = "f1") -> list[Artefact]:
    """One artefact of each kind, all in ``family_id``."""
    return [
        _code(family_id=family_id),
        AccessToken(
            digest="a1",
            family_id=family_id,
            client_id="web",
            subject=None,
            scope=("read",),
            audience=("https://api.example/",),
            issued_at=1000.0,
            expires_at=1300.5,
            cnf=(("jkt", "thumb"),),
        ),
        RefreshToken(
            digest="r1",
            family_id=family_id,
            client_id="web",
            scope=("read",),
            issued_at=1000.0,
            expires_at=2000.0,
            last_used_at=1000.0,
        ),
        DeviceCode(
            digest="dc1",
            user_code_digest="uc1",
            family_id=family_id,
            client_id="spa",
            scope=("read",),
            issued_at=1000.0,
            expires_at=1600.0,
            interval=5,
            next_poll_at=1005.0,
        ),
        UserCode(digest="uc1", device_digest="dc1", family_id=family_id, expires_at=1600.0),
        PushedRequest(
            digest="par1",
            family_id=family_id,
            client_id="web",
            parameters=(("scope", "read"), ("state", "é\u2028")),
            issued_at=1000.0,
            expires_at=1090.0,
        ),
    ]


# --------------------------------------------------------------------------- semantics


def test_every_artefact_kind_round_trips(oauth: OAuthBackend) -> None:
    """Each kind comes back equal (states as enums, tuples as tuples); unknown digests miss."""
    records = _every_kind()
    assert oauth.grants.apply([Insert(record=r) for r in records])
    for record in records:
        assert oauth.grants.get(record.digest) == record
    assert oauth.grants.get("missing") is None


def test_insert_conflicts_on_an_existing_digest(oauth: OAuthBackend) -> None:
    """A second insert of a digest fails and writes nothing, even in another family."""
    assert oauth.grants.apply([Insert(record=_code())])
    assert not oauth.grants.apply(
        [SaveFamily(family=_family(), expected_version=None), Insert(record=_code())]
    )
    assert oauth.grants.family("f1") is None
    other = _code(family_id="f2")
    assert not oauth.grants.apply([Insert(record=other)])
    assert oauth.grants.get("d1") == _code()


def test_update_is_compare_and_set(oauth: OAuthBackend) -> None:
    """An update with a stale version fails; the right one succeeds, once."""
    grants = oauth.grants
    assert grants.apply([Insert(record=_code())])
    redeemed = dataclasses.replace(_code(version=2), state=lifecycle.CodeState.REDEEMED)
    assert not grants.apply([Update(record=redeemed, expected_version=5)])
    assert grants.apply([Update(record=redeemed, expected_version=1)])
    assert not grants.apply([Update(record=redeemed, expected_version=1)])
    assert grants.get("d1") == redeemed
    assert not grants.apply([Update(record=_code("nope"), expected_version=1)])  # absent


def test_update_never_changes_a_record_kind(oauth: OAuthBackend) -> None:
    """An update whose record is of another kind than the stored one loses, on every backend."""
    access = _every_kind()[1]
    assert oauth.grants.apply([Insert(record=access)])
    impostor = dataclasses.replace(_code(access.digest), version=access.version + 1)
    assert not oauth.grants.apply([Update(record=impostor, expected_version=access.version)])
    assert oauth.grants.get(access.digest) == access


def test_apply_is_all_or_nothing(oauth: OAuthBackend) -> None:
    """A failing precondition late in the list leaves the earlier writes unapplied."""
    access, refresh = _every_kind()[1:3]
    assert not oauth.grants.apply(
        [
            SaveFamily(family=_family(), expected_version=None),
            Insert(record=access),
            Insert(record=refresh),
            Update(record=_code(), expected_version=1),  # no such code
        ]
    )
    assert oauth.grants.get("a1") is None
    assert oauth.grants.get("r1") is None
    assert oauth.grants.family("f1") is None


def test_later_effects_see_earlier_ones(oauth: OAuthBackend) -> None:
    """Within one apply, an update sees the insert before it, a revocation the save."""
    redeemed = dataclasses.replace(_code(version=2), state=lifecycle.CodeState.REDEEMED)
    assert oauth.grants.apply(
        [
            Insert(record=_code()),
            Update(record=redeemed, expected_version=1),
            SaveFamily(family=_family(), expected_version=None),
            RevokeFamily(family_id="f1", client_id="web", at=1001.0),
        ]
    )
    assert oauth.grants.get("d1") == redeemed
    family = oauth.grants.family("f1")
    assert family == dataclasses.replace(_family(), version=2, revoked=True)
    assert not oauth.grants.apply([Insert(record=_code("d2")), Insert(record=_code("d2"))])
    assert oauth.grants.get("d2") is None


def test_families_and_revocation(oauth: OAuthBackend) -> None:
    """SaveFamily creates once and replaces by version; RevokeFamily marks or tombstones."""
    grants = oauth.grants
    assert grants.apply([SaveFamily(family=_family(), expected_version=None)])
    assert not grants.apply([SaveFamily(family=_family(), expected_version=None)])
    assert grants.family("f1") == _family()
    assert not grants.apply([SaveFamily(family=_family(2), expected_version=7)])
    assert grants.apply([SaveFamily(family=_family(2), expected_version=1)])
    assert grants.apply([RevokeFamily(family_id="f1", client_id="web", at=1.0)])
    assert grants.family("f1") == _family(3, revoked=True)
    assert grants.apply([RevokeFamily(family_id="f1", client_id="web", at=2.0)])
    assert grants.family("f1") == _family(4, revoked=True)
    assert not grants.apply([SaveFamily(family=_family(4), expected_version=3)])
    assert grants.apply([RevokeFamily(family_id="f2", client_id="web", at=5.0)])
    tombstone = grants.family("f2")
    assert tombstone is not None
    assert (tombstone.revoked, tombstone.version, tombstone.created_at) == (True, 1, 5.0)
    assert not grants.apply([SaveFamily(family=_family(family_id="f2"), expected_version=None)])
    assert grants.family("nope") is None


def test_purge_deletes_only_expired_records(oauth: OAuthBackend) -> None:
    """purge(before=) drops records expired before the cut-off (Redis expires keys instead)."""
    purge = getattr(oauth.grants, "purge", None)
    if oauth.name.startswith("redis"):
        assert purge is None  # TTLs on the server: see test_redis.py for their lengths
        return
    assert purge is not None
    later = dataclasses.replace(_code("later"), expires_at=5000.0)
    assert oauth.grants.apply([Insert(record=_code("old")), Insert(record=later)])
    assert oauth.grants.apply([SaveFamily(family=_family(), expected_version=None)])
    assert purge(before=2000.0) == 1
    assert oauth.grants.get("old") is None
    assert oauth.grants.get("later") == later
    assert oauth.grants.family("f1") == _family()  # not ended: kept


def _ended(family_id: str, expires_at: float = 1500.0) -> Family:
    return dataclasses.replace(_family(family_id=family_id), expires_at=expires_at)


def test_purge_deletes_ended_families_left_without_records(oauth: OAuthBackend) -> None:
    """A family goes once it has ended and no record of it is left; never before."""
    purge = getattr(oauth.grants, "purge", None)
    if oauth.name.startswith("redis"):
        assert purge is None  # families expire by TTL: see test_redis.py
        return
    assert purge is not None
    grants = oauth.grants
    saves = [
        SaveFamily(family=_ended(name), expected_version=None) for name in ("gone", "held", "late")
    ]
    saves.append(SaveFamily(family=_family(family_id="alive"), expected_version=None))
    held = dataclasses.replace(_code("h1", family_id="held"), expires_at=5000.0)
    late = _code("l1", family_id="late")  # expires at 1060: purged with its family
    assert grants.apply([*saves, Insert(record=held), Insert(record=late)])
    # Tombstones end when revoked: one left alone, one with a record still pointing at it.
    assert grants.apply([RevokeFamily(family_id="stone", client_id="web", at=1200.0)])
    stone_code = dataclasses.replace(_code("s1", family_id="stone2"), expires_at=5000.0)
    assert grants.apply(
        [Insert(record=stone_code), RevokeFamily(family_id="stone2", client_id="web", at=1200.0)]
    )
    assert purge(before=2000.0) == 4  # l1, and the families gone, late and stone
    assert [grants.family(f) for f in ("gone", "late", "stone")] == [None, None, None]
    assert grants.family("held") == _ended("held")
    assert grants.family("alive") == _family(family_id="alive")
    stone2 = grants.family("stone2")
    assert stone2 is not None
    assert stone2.revoked
    assert grants.get("h1") == held
    # A family kept because of its record cannot be created again over itself.
    assert not grants.apply([SaveFamily(family=_ended("held"), expected_version=None)])
    assert not grants.apply([SaveFamily(family=_family(family_id="stone2"), expected_version=None)])
    # Its record gone too, the next purge takes it.
    assert purge(before=dt.datetime.fromtimestamp(6000.0, dt.timezone.utc)) == 4
    assert grants.family("held") is None
    assert grants.family("stone2") is None
    assert grants.family("alive") == _family(family_id="alive")


def test_purge_deletes_a_backlog_in_batches(
    oauth: OAuthBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """batch_size rows per transaction until a batch comes back short; the count is the total."""
    purge = getattr(oauth.grants, "purge", None)
    if purge is None:
        assert oauth.name.startswith("redis")
        return
    batches: list[int] = []
    module = sys.modules[type(oauth.grants).__module__]
    if oauth.name != "memory":  # the database stores run one transaction per batch
        real = module.purge_batches

        def spy(delete: Callable[[Any, int], int], statements: Any, batch_size: object) -> int:
            def counted(statement: Any, batch: int) -> int:
                batches.append(delete(statement, batch))
                return batches[-1]

            return int(real(counted, statements, batch_size))

        monkeypatch.setattr(module, "purge_batches", spy)
    # Seven expired codes in five ended families, and one live code in a live family.
    families = [SaveFamily(family=_ended(f"e{i}"), expected_version=None) for i in range(5)]
    codes = [Insert(record=_code(f"c{i}", family_id=f"e{i % 5}")) for i in range(7)]
    live = dataclasses.replace(_code("live", family_id="alive"), expires_at=5000.0)
    alive = SaveFamily(family=_family(family_id="alive"), expected_version=None)
    assert oauth.grants.apply([*families, *codes, alive, Insert(record=live)])
    assert purge(before=2000.0, batch_size=2) == 7 + 5
    if oauth.name != "memory":
        assert batches == [2, 2, 2, 1, 2, 2, 1]  # records, then families, each to a short batch
    assert [oauth.grants.get(f"c{i}") for i in range(7)] == [None] * 7
    assert [oauth.grants.family(f"e{i}") for i in range(5)] == [None] * 5
    assert oauth.grants.get("live") == live
    assert purge(before=2000.0, batch_size=1) == 0


@pytest.mark.parametrize("batch_size", [0, -1, True, 2.0, "10", 10**6 + 1])
def test_purge_refuses_a_bad_batch_size(oauth: OAuthBackend, batch_size: object) -> None:
    """ConfigurationError before anything is deleted."""
    purge = getattr(oauth.grants, "purge", None)
    if purge is None:
        assert oauth.name.startswith("redis")
        return
    assert oauth.grants.apply([Insert(record=_code("old"))])
    with pytest.raises(ConfigurationError, match="batch_size"):
        purge(before=2000.0, batch_size=batch_size)
    assert oauth.grants.get("old") == _code("old")


@pytest.mark.parametrize(
    "before",
    [None, "2000", True, float("nan"), dt.datetime(2026, 1, 1)],  # noqa: DTZ001 - naive
    ids=repr,
)
def test_purge_refuses_a_cut_off_that_is_not_an_instant(
    oauth: OAuthBackend, before: object
) -> None:
    """None (it would mean "now", without margin), text, bool, NaN, naive: ConfigurationError."""
    purge = getattr(oauth.grants, "purge", None)
    if purge is None:
        assert oauth.name.startswith("redis")
        return
    assert oauth.grants.apply([Insert(record=_code("old"))])
    with pytest.raises(ConfigurationError, match="before"):
        purge(before=before)
    assert oauth.grants.get("old") == _code("old")  # nothing deleted


@pytest.mark.parametrize("family_id", ["{tag}", "a}b{c", "%7B", "é \u2028", "x" * 300])
def test_odd_family_ids_keep_one_family_together(oauth: OAuthBackend, family_id: str) -> None:
    """Braces, escapes and non-ASCII in a family id neither split a family nor merge two."""
    records = _every_kind(family_id)
    effects = [SaveFamily(family=_family(family_id=family_id), expected_version=None)]
    assert oauth.grants.apply([*effects, *(Insert(record=r) for r in records)])
    assert oauth.grants.get("d1") == records[0]
    assert oauth.grants.family(family_id) == _family(family_id=family_id)
    assert oauth.grants.family(family_id + "x") is None
    assert oauth.grants.apply([RevokeFamily(family_id=family_id, client_id="web", at=1.0)])
    assert oauth.grants.family(family_id) == _family(2, family_id=family_id, revoked=True)


@pytest.mark.parametrize("key", ["\ud800", "nul\x00byte", "", "k" * 2000])
def test_odd_lookups_miss(oauth: OAuthBackend, key: str) -> None:
    """Unencodable, NUL-carrying, empty or huge ids are simply not found."""
    assert oauth.grants.get(key) is None
    assert oauth.grants.family(key) is None
    assert oauth.clients.get(key) is None


def test_clients_round_trip(oauth: OAuthBackend) -> None:
    """Every standard client registration comes back equal; add replaces; junk is refused."""
    add = getattr(oauth.clients, "add")  # noqa: B009 - not part of the ClientStore protocol
    for metadata in helpers.CLIENTS.values():
        add(ClientRecord.from_metadata(metadata))
    for client_id, metadata in helpers.CLIENTS.items():
        assert oauth.clients.get(client_id) == ClientRecord.from_metadata(metadata)
    narrower = ClientRecord.from_metadata({**helpers.CLIENTS["spa"], "scope": "read"})
    add(narrower)
    assert oauth.clients.get("spa") == narrower
    assert oauth.clients.get("nobody") is None
    with pytest.raises(ConfigurationError):
        add({"client_id": "dict"})


# --------------------------------------------------------------------------- the server


def test_server_code_pkce_refresh_rotation_and_reuse(oauth: OAuthBackend) -> None:
    """Code + PKCE, refresh rotation, then reuse detection revokes the whole family."""
    env = helpers.make_env(store=oauth.grants)
    code = helpers.get_code(env)
    assert helpers.redeem(env, code, code_verifier="x" * 43).status == 400  # wrong verifier
    code = helpers.get_code(env)
    first = helpers.body(helpers.redeem(env, code))
    record = oauth.grants.get(digest(first["refresh_token"]))
    assert isinstance(record, RefreshToken)
    assert record.state is lifecycle.RefreshState.ACTIVE
    second = helpers.body(helpers.refresh(env, first["refresh_token"]))
    assert second["refresh_token"] != first["refresh_token"]
    rotated = oauth.grants.get(digest(first["refresh_token"]))
    assert isinstance(rotated, RefreshToken)
    assert rotated.state is lifecycle.RefreshState.ROTATED
    family = oauth.grants.family(record.family_id)
    assert family is not None
    assert not family.revoked
    assert helpers.refresh(env, first["refresh_token"]).status == 400  # reuse: revoke
    family = oauth.grants.family(record.family_id)
    assert family is not None
    assert family.revoked
    assert helpers.refresh(env, second["refresh_token"]).status == 400
    code = helpers.get_code(env)
    third = helpers.body(helpers.redeem(env, code))
    assert helpers.redeem(env, code).status == 400  # a replayed code revokes its grant
    assert helpers.refresh(env, third["refresh_token"]).status == 400


def _async_stores(oauth: OAuthBackend) -> tuple[Any, Any, list[Any]]:
    """The async faces of the backend's stores (a fresh asyncio client for Redis)."""
    if oauth.spec is None:
        from authcore.stores import memory  # noqa: PLC0415

        return (
            memory.AsyncMemoryGrantStore(oauth.grants),  # type: ignore[arg-type]
            memory.AsyncMemoryClientStore(oauth.clients),  # type: ignore[arg-type]
            [],
        )
    if oauth.spec.backend == "sqlite":
        from authcore.stores import sqlite  # noqa: PLC0415

        return (
            sqlite.AsyncSQLiteGrantStore(oauth.grants),  # type: ignore[arg-type]
            sqlite.AsyncSQLiteClientStore(oauth.clients),  # type: ignore[arg-type]
            [],
        )
    if oauth.spec.backend == "postgres":
        from authcore.stores import postgres  # noqa: PLC0415

        return (
            postgres.AsyncPostgresGrantStore(oauth.grants),  # type: ignore[arg-type]
            postgres.AsyncPostgresClientStore(oauth.clients),  # type: ignore[arg-type]
            [],
        )
    from authcore.stores import redis  # noqa: PLC0415

    client = redis.connect_async(oauth.spec.target, cluster=oauth.spec.backend == "redis-cluster")
    return (
        redis.AsyncRedisGrantStore(client, prefix=oauth.spec.prefix),
        redis.AsyncRedisClientStore(client, prefix=oauth.spec.prefix),
        [client],
    )


def test_async_server_over_each_backend(oauth: OAuthBackend) -> None:
    """AsyncAuthorizationServer runs the code flow and a rotation over the async faces."""
    from authcore.oauth import AsyncAuthorizationServer, PendingAuthorization  # noqa: PLC0415

    grants, clients, closers = _async_stores(oauth)
    sync = helpers.make_env()

    async def flow() -> tuple[int, ...]:
        for metadata in helpers.CLIENTS.values():
            if hasattr(clients, "add"):
                await clients.add(ClientRecord.from_metadata(metadata))
            else:
                clients.sync.add(ClientRecord.from_metadata(metadata))
        server = AsyncAuthorizationServer(
            issuer=sync.server.issuer,
            clients=clients,
            store=grants,
            keys=sync.server.keys,
            policy=sync.server.policy,
            rate_limits=sync.server.rate_limits,
            clock=sync.clock,
        )
        pending = await server.begin_authorization(
            helpers.authorize_request(**helpers.code_params())
        )
        assert isinstance(pending, PendingAuthorization)
        redirect = await server.complete_authorization(pending, subject="alice")
        code = helpers.location_params(redirect)["code"]
        params = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "https://app.example/cb",
            "code_verifier": helpers.VERIFIER,
        }

        async def token(form: dict[str, str]) -> Response:
            return await server.token_endpoint(helpers.post(helpers.TOKEN_URL, form, client="web"))

        issued = await token(params)
        first = {
            "grant_type": "refresh_token",
            "refresh_token": helpers.body(issued)["refresh_token"],
        }
        rotated = await token(first)
        second = {
            "grant_type": "refresh_token",
            "refresh_token": helpers.body(rotated)["refresh_token"],
        }
        replayed = await token(params)  # a replayed code revokes the grant
        refused = await token(second)
        for item in closers:
            await item.aclose()
        return issued.status, rotated.status, replayed.status, refused.status

    assert asyncio.run(flow()) == (200, 200, 400, 400)


def test_async_faces_purge_as_their_stores(oauth: OAuthBackend) -> None:
    """``await grants.purge(before=...)`` deletes what the sync store's purge deletes."""
    grants, _, closers = _async_stores(oauth)

    async def purge() -> int | None:
        assert await grants.apply([Insert(record=_code("old"))])
        assert await grants.apply([SaveFamily(family=_ended("gone"), expected_version=None)])
        deleted = await grants.purge(before=2000.0) if hasattr(grants, "purge") else None
        for item in closers:
            await item.aclose()
        return deleted

    deleted = asyncio.run(purge())
    if oauth.name.startswith("redis"):
        assert deleted is None  # keys expire on the server
        return
    assert deleted == 2
    assert oauth.grants.get("old") is None
    assert oauth.grants.family("gone") is None


# --------------------------------------------------------------------------- exactly once


def _race_threads(store: GrantStore, codes: list[str], refresh: list[str]) -> list[Any]:
    barrier = threading.Barrier(WORKERS, timeout=120)
    results: list[Any] = []
    lock = threading.Lock()

    def work() -> None:
        outcome = oauth_race(store, codes, refresh, barrier)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=work) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_exactly_one_redemption_and_rotation_across_processes(oauth: OAuthBackend) -> None:
    """8 racers redeem one code, then rotate one refresh token: one 200 each time, every time."""
    env = helpers.make_env(store=oauth.grants)
    codes = [helpers.get_code(env) for _ in range(OAUTH_ROUNDS)]
    refresh = [helpers.tokens(env)["refresh_token"] for _ in range(OAUTH_ROUNDS)]
    if oauth.spec is None:
        outcomes = _race_threads(oauth.grants, codes, refresh)
    else:
        outcomes = race_processes(oauth.spec, oauth_race_process, (codes, refresh))
    assert [o for o in outcomes if isinstance(o, str)] == []
    assert len(outcomes) == WORKERS
    for round_ in range(2 * OAUTH_ROUNDS):
        statuses = sorted(o[round_] for o in outcomes)
        assert statuses == [200] + [400] * (WORKERS - 1), (round_, statuses)
    for secret in codes:  # every loser replayed the redeemed code: the grant is revoked
        code = oauth.grants.get(digest(secret))
        assert isinstance(code, AuthorizationCode)
        assert code.state is not lifecycle.CodeState.ISSUED
        family = oauth.grants.family(code.family_id)
        assert family is not None
        assert family.revoked
    for token in refresh:  # every loser reused the rotated token: the family is revoked
        record = oauth.grants.get(digest(token))
        assert isinstance(record, RefreshToken)
        assert record.state is not lifecycle.RefreshState.ACTIVE
        family = oauth.grants.family(record.family_id)
        assert family is not None
        assert family.revoked
