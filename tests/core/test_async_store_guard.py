"""An ``async`` store where a synchronous caller expects a ``bool``: refused, never truthy.

An ``async def add`` returns a coroutine, and a coroutine is truthy: read as "not seen
before", it would accept every replayed webhook, DPoP proof and client assertion.  Every
synchronous option refuses an async store when it is given (``ConfigurationError``), every
call site refuses an answer that is not a ``bool`` (``StoreError``, fail closed), and the
async authorization server awaits async stores and keeps their answers.
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from typing import TYPE_CHECKING, Any

import pytest

from authcore.apikeys import KeyHasher, KeyManager
from authcore.authn import AsyncSessionIssuer, SessionIssuer
from authcore.errors import ConfigurationError, InvalidGrant, RateLimited, Replayed, StoreError
from authcore.jose import JWK, jwt
from authcore.jose.denylist import revoke
from authcore.jose.keyring import KeyRing
from authcore.mtls import CRLChecker, OCSPChecker, RevocationPolicy
from authcore.oauth import AsyncAuthorizationServer, AuthorizationServer, Policy, TokenFormat
from authcore.oauth.dpop import DPoPKey, verify_proof
from authcore.oauth.resource import AsyncIntrospector, Introspector, ResourceServer
from authcore.stores.memory import (
    AsyncMemoryClientStore,
    AsyncMemoryGrantStore,
    MemoryClientStore,
    MemoryGrantStore,
    MemoryKeyStore,
    MemoryOneTimeStore,
    MemoryRateLimitStore,
)
from authcore.webhooks import WebhookVerifier, github, sign, stripe
from authcore.webhooks import verify as verify_webhook
from tests.oauth import helpers
from tests.oauth.helpers import AsyncOneTime
from tests.stores.conftest import need_module

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable

    from authcore.ratelimit import GCRA, Decision

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
HS_KEY = JWK.generate("HS256", kid="h")


class AsyncRates:
    """An async rate-limit store (as ``AsyncRedisRateLimitStore``), over a memory one."""

    def __init__(self) -> None:
        self.sync = MemoryRateLimitStore()
        self.hits = 0

    async def hit(self, key: str, limit: GCRA, *, cost: int, now_ns: int) -> Decision:
        self.hits += 1
        return self.sync.hit(key, limit, cost=cost, now_ns=now_ns)

    async def reset(self, key: str) -> None:
        self.sync.reset(key)


class Answers:
    """A synchronous-looking store whose answers are not bools."""

    def __init__(self, answer: Callable[[], object]) -> None:
        self.answer = answer

    def add(self, key: str, *, expires_at: dt.datetime, now: dt.datetime) -> Any:
        del key, expires_at, now
        return self.answer()

    def contains(self, key: str, *, now: dt.datetime) -> Any:
        del key, now
        return self.answer()


async def _true() -> bool:
    return True


# A coroutine from a plain def (a wrapper around an async client), a number, nothing.
ANSWERS = {"coroutine": _true, "one": lambda: 1, "none": lambda: None}


def _server(**options: Any) -> AuthorizationServer:
    defaults: dict[str, Any] = {"clients": MemoryClientStore(), "store": MemoryGrantStore()}
    return AuthorizationServer(
        issuer=helpers.ISSUER,
        policy=Policy(access_token_format=TokenFormat.OPAQUE),
        **{**defaults, **options},
    )


SYNC_OPTIONS: dict[str, Callable[[Any], object]] = {
    "WebhookVerifier": lambda s: WebhookVerifier(SECRET, replay_cache=s),
    "webhooks.verify": lambda s: verify_webhook(b"{}", sign(b"{}", SECRET), SECRET, replay_cache=s),
    "StripeVerifier": lambda s: stripe.StripeVerifier("whsec_x", replay_cache=s),
    "github.verify": lambda s: github.verify(b"{}", "sha256=00", "k", replay_cache=s),
    "jwt.decode": lambda s: jwt.decode("a.b.c", HS_KEY, algorithms=["HS256"], denylist=s),
    "SessionIssuer": lambda s: SessionIssuer(
        keys=KeyRing.create(JWK.generate("ES256", kid="s")),
        store=MemoryGrantStore(),
        issuer="https://app.example",
        audience="https://app.example/api",
        denylist=s,
    ),
    "revoke": lambda s: revoke(s, {"jti": "j", "exp": 2**40}),
    "verify_proof": lambda s: verify_proof("x", replay=s, method="GET", url="https://a.example/"),
    "ResourceServer": lambda s: ResourceServer(
        resource="https://api.example/",
        issuer=helpers.ISSUER,
        keys=HS_KEY,
        algorithms=["HS256"],
        dpop_replay=s,
    ),
    "AuthorizationServer": lambda s: _server(one_time=s),
}


@pytest.mark.parametrize("option", SYNC_OPTIONS)
def test_sync_options_refuse_an_async_one_time_store(option: str) -> None:
    """Each says which option and why, before anything is verified or stored."""
    with pytest.raises(ConfigurationError, match="async"):
        SYNC_OPTIONS[option](AsyncOneTime())


@pytest.mark.parametrize(
    "build",
    [
        lambda s: _server(rate_limits=s),
        lambda s: KeyManager(MemoryKeyStore(), KeyHasher({"p": b"p" * 32}), prefix="ak", limiter=s),
    ],
    ids=["AuthorizationServer", "KeyManager"],
)
def test_sync_options_refuse_an_async_rate_limit_store(build: Callable[[Any], object]) -> None:
    with pytest.raises(ConfigurationError, match="async"):
        build(AsyncRates())
    with pytest.raises(ConfigurationError, match="RateLimitStore"):
        build(object())


def _no_unawaited_warning(call: Callable[[], object]) -> None:
    """``call`` raises StoreError and leaves no coroutine to warn about later."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(StoreError, match="not a bool"):
            call()
        gc.collect()
    assert [str(w.message) for w in caught] == []


@pytest.mark.parametrize("answer", ANSWERS)
def test_webhook_replay_cache_answers_must_be_bools(answer: str) -> None:
    verifier = WebhookVerifier(SECRET, replay_cache=Answers(ANSWERS[answer]))
    _no_unawaited_warning(lambda: verifier.verify(b"{}", sign(b"{}", SECRET)))


@pytest.mark.parametrize("answer", ANSWERS)
def test_denylist_answers_must_be_bools(answer: str) -> None:
    store = Answers(ANSWERS[answer])
    token = jwt.encode({"jti": "j", "exp": 2**40}, HS_KEY)
    verifier = jwt.JWTVerifier(HS_KEY, algorithms=["HS256"], denylist=store)
    _no_unawaited_warning(lambda: verifier.verify(token))
    _no_unawaited_warning(lambda: revoke(store, {"jti": "j", "exp": 2**40}))


@pytest.mark.parametrize("answer", ANSWERS)
def test_dpop_replay_answers_must_be_bools(answer: str) -> None:
    key = DPoPKey.generate("ES256")
    proof = key.proof("POST", "https://as.example/token")
    store = Answers(ANSWERS[answer])
    _no_unawaited_warning(
        lambda: verify_proof(proof, replay=store, method="POST", url="https://as.example/token")
    )


@pytest.mark.parametrize("answer", ANSWERS)
def test_server_jti_answers_must_be_bools(answer: str) -> None:
    """A DPoP proof at the token endpoint: the store's odd answer is a 500, not an accept."""
    env = helpers.make_env()
    env.server.one_time = Answers(ANSWERS[answer])
    proof = DPoPKey.generate("ES256").proof("POST", helpers.TOKEN_URL, now=env.clock.now())
    request = helpers.post(
        helpers.TOKEN_URL, {"grant_type": "client_credentials"}, headers={"DPoP": proof}
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        response = env.server.token_endpoint(request)
        gc.collect()
    assert response.status == 500
    assert [str(w.message) for w in caught] == []


def _async_server(env: helpers.Env, one_time: object, rates: object) -> AsyncAuthorizationServer:
    return AsyncAuthorizationServer(
        issuer=helpers.ISSUER,
        clients=AsyncMemoryClientStore(env.clients),
        store=AsyncMemoryGrantStore(),
        keys=env.server.keys,
        policy=env.server.policy,
        one_time=one_time,  # type: ignore[arg-type]
        rate_limits=rates,  # type: ignore[arg-type]
        clock=env.clock,
    )


def test_the_async_server_awaits_an_async_one_time_store() -> None:
    """A DPoP proof is accepted once through an async store: the second use is refused."""
    env = helpers.make_env()
    one_time = AsyncOneTime()
    server = _async_server(env, one_time, AsyncRates())
    proof = DPoPKey.generate("ES256").proof("POST", helpers.TOKEN_URL, now=env.clock.now())

    async def client_credentials() -> int:
        request = helpers.post(
            helpers.TOKEN_URL,
            {"grant_type": "client_credentials"},
            client="web",
            headers={"DPoP": proof},
        )
        return (await server.token_endpoint(request)).status

    assert asyncio.run(client_credentials()) == 200
    assert asyncio.run(client_credentials()) == 400
    assert one_time.adds == 2


def test_the_async_server_awaits_an_async_rate_limit_store() -> None:
    """Five wrong user codes a minute, then refused: the limit holds through an async store."""
    env = helpers.make_env()
    rates = AsyncRates()
    server = _async_server(env, MemoryOneTimeStore(), rates)

    async def enter(user_code: str) -> None:
        await server.complete_device_authorization(user_code, subject="a", rate_limit_key="ip")

    for _ in range(5):
        with pytest.raises(InvalidGrant):
            asyncio.run(enter("BBBB-BBBB"))
    with pytest.raises(RateLimited):
        asyncio.run(enter("BBBB-BBBB"))
    assert rates.hits == 6


def test_the_async_server_refuses_what_is_no_store() -> None:
    env = helpers.make_env()
    with pytest.raises(ConfigurationError, match="one_time"):
        _async_server(env, object(), None)
    with pytest.raises(ConfigurationError, match="rate_limits"):
        _async_server(env, None, object())


def test_webhook_replays_are_still_refused_by_a_sync_store() -> None:
    """The guard changes nothing for a conforming store."""
    verifier = WebhookVerifier(SECRET, replay_cache=MemoryOneTimeStore())
    headers = sign(b"{}", SECRET)
    verifier.verify(b"{}", headers)
    with pytest.raises(Replayed):
        verifier.verify(b"{}", headers)


# ---------------------------------------------------------------- grant and client stores


class ApplyAnswers(MemoryGrantStore):
    """A grant store whose ``apply`` answers something other than a bool."""

    def __init__(self, answer: Callable[[], object]) -> None:
        super().__init__()
        self.answer = answer

    def apply(self, effects: object) -> Any:
        del effects
        return self.answer()


_KEYS = JWK.generate("ES256", kid="s1")


def _session_issuer(kind: type[SessionIssuer | AsyncSessionIssuer], store: object) -> object:
    return kind(
        keys=KeyRing.create(_KEYS),
        store=store,  # type: ignore[arg-type]
        issuer="https://app.example",
        audience="https://app.example/api",
    )


@pytest.mark.parametrize(
    "build",
    [
        lambda: _server(store=AsyncMemoryGrantStore()),
        lambda: AuthorizationServer(
            issuer=helpers.ISSUER,
            clients=AsyncMemoryClientStore(),  # type: ignore[arg-type]
            store=MemoryGrantStore(),
            policy=Policy(access_token_format=TokenFormat.OPAQUE),
        ),
        lambda: _session_issuer(SessionIssuer, AsyncMemoryGrantStore()),
    ],
    ids=["server-grants", "server-clients", "sessions"],
)
def test_sync_drivers_refuse_async_grant_and_client_stores(build: Callable[[], object]) -> None:
    """An un-awaited apply() is truthy: tokens would be issued with nothing stored."""
    with pytest.raises(ConfigurationError, match="is async"):
        build()


@pytest.mark.parametrize(
    "build",
    [
        lambda: AsyncAuthorizationServer(
            issuer=helpers.ISSUER,
            clients=AsyncMemoryClientStore(),
            store=MemoryGrantStore(),  # type: ignore[arg-type]
            policy=Policy(access_token_format=TokenFormat.OPAQUE),
        ),
        lambda: AsyncAuthorizationServer(
            issuer=helpers.ISSUER,
            clients=MemoryClientStore(),  # type: ignore[arg-type]
            store=AsyncMemoryGrantStore(),
            policy=Policy(access_token_format=TokenFormat.OPAQUE),
        ),
        lambda: _session_issuer(AsyncSessionIssuer, MemoryGrantStore()),
    ],
    ids=["server-grants", "server-clients", "sessions"],
)
def test_async_drivers_refuse_sync_grant_and_client_stores(build: Callable[[], object]) -> None:
    """Awaiting a bool would be a TypeError from deep inside: refused when built instead."""
    with pytest.raises(ConfigurationError, match="is synchronous"):
        build()


def test_a_store_without_the_methods_is_refused() -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"GrantStore \(get, family, apply\): object lacks get, family, apply",
    ):
        _server(store=object())
    with pytest.raises(ConfigurationError, match="AsyncGrantStore"):
        _session_issuer(AsyncSessionIssuer, object())


@pytest.mark.parametrize("answer", ANSWERS)
def test_apply_answers_must_be_bools(answer: str) -> None:
    """The server answers 500; the session issuer raises StoreError; nothing is issued."""
    env = helpers.make_env(store=ApplyAnswers(ANSWERS[answer]))
    request = helpers.post(helpers.TOKEN_URL, {"grant_type": "client_credentials"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert env.server.token_endpoint(request).status == 500
        issuer = _session_issuer(SessionIssuer, ApplyAnswers(ANSWERS[answer]))
        with pytest.raises(StoreError, match="not a bool"):
            issuer.login("alice")  # type: ignore[attr-defined]
        gc.collect()
    assert [str(w.message) for w in caught] == []


# ---------------------------------------------------------------- DPoP nonce sources


class AsyncNonces:
    """A nonce source whose methods are async (its check() would be truthy un-awaited)."""

    async def current(self, *, now: float) -> str:
        del now
        return "n"

    async def check(self, nonce: str, *, now: float) -> bool:
        del nonce, now
        return False


@pytest.mark.parametrize(
    "build",
    [
        lambda n: _server(one_time=MemoryOneTimeStore(), dpop_nonces=n),
        lambda n: ResourceServer(
            resource="https://api.example/",
            issuer=helpers.ISSUER,
            keys=HS_KEY,
            algorithms=["HS256"],
            dpop_replay=MemoryOneTimeStore(),
            dpop_nonces=n,
        ),
        lambda n: verify_proof("x", replay=MemoryOneTimeStore(), nonces=n, method="GET", url="u"),
    ],
    ids=["AuthorizationServer", "ResourceServer", "verify_proof"],
)
def test_async_nonce_sources_are_refused(build: Callable[[Any], object]) -> None:
    with pytest.raises(ConfigurationError, match="synchronous NonceSource"):
        build(AsyncNonces())
    with pytest.raises(ConfigurationError, match="NonceSource"):
        build(object())


class OddNonces:
    """A synchronous nonce source whose check() answers something other than a bool."""

    def __init__(self, answer: Callable[[], object]) -> None:
        self.answer = answer

    def current(self, *, now: float) -> str:
        del now
        return "n"

    def check(self, nonce: str, *, now: float) -> Any:
        del nonce, now
        return self.answer()


@pytest.mark.parametrize("answer", ANSWERS)
def test_nonce_checks_must_answer_bools(answer: str) -> None:
    key = DPoPKey.generate("ES256")
    proof = key.proof("POST", "https://as.example/token", nonce="stale")
    nonces = OddNonces(ANSWERS[answer])
    _no_unawaited_warning(
        lambda: verify_proof(
            proof,
            replay=MemoryOneTimeStore(),
            nonces=nonces,
            method="POST",
            url="https://as.example/token",
        )
    )


# ---------------------------------------------------------------- other async callables


class AsyncKeyStore(MemoryKeyStore):
    """A key store whose ``consume_use`` is async (a coroutine would pass for uses left)."""

    async def consume_use(self, key_id: str) -> int | None:  # type: ignore[override]
        return super().consume_use(key_id)


async def _send(request: object) -> object:
    del request
    raise AssertionError


def test_a_sync_key_manager_refuses_an_async_key_store() -> None:
    with pytest.raises(ConfigurationError, match="KeyStore: AsyncKeyStore is async"):
        KeyManager(AsyncKeyStore(), KeyHasher({"p": b"p" * 32}), prefix="ak")  # type: ignore[arg-type]


def test_a_sync_introspector_refuses_an_async_send() -> None:
    with pytest.raises(ConfigurationError, match="AsyncIntrospector"):
        Introspector("https://as.example/introspect", _send)  # type: ignore[arg-type]
    introspector = AsyncIntrospector("https://as.example/introspect", _send)  # type: ignore[arg-type]
    assert isinstance(introspector, AsyncIntrospector)  # the async one awaits it


@pytest.mark.parametrize("checker", [CRLChecker, OCSPChecker])
@pytest.mark.parametrize("fetch", [_send, "https://ocsp.example/"], ids=["async", "not-callable"])
def test_revocation_checkers_refuse_an_unusable_fetch(checker: type[Any], fetch: object) -> None:
    """Under SOFT_FAIL an async fetch's failures would have let every certificate through."""
    with pytest.raises(ConfigurationError, match="synchronous callable"):
        checker(fetch=fetch, policy=RevocationPolicy.SOFT_FAIL)


def test_the_sync_redis_jwks_fetch_refuses_an_async_origin() -> None:
    need_module("redis")
    from authcore.stores.redis import AsyncRedisJWKSFetch, RedisJWKSFetch  # noqa: PLC0415

    with pytest.raises(ConfigurationError, match="AsyncRedisJWKSFetch"):
        RedisJWKSFetch(object(), _send, name="https://as.example/jwks")  # type: ignore[arg-type]
    shared = AsyncRedisJWKSFetch(object(), _send, name="https://as.example/jwks")  # type: ignore[arg-type]
    assert isinstance(shared, AsyncRedisJWKSFetch)


def test_async_faces_refuse_what_they_do_not_wrap() -> None:
    """AsyncSQLiteGrantStore(AsyncMemoryGrantStore()) would hand back coroutines from a thread."""
    from authcore.stores.sqlite import AsyncSQLiteClientStore, AsyncSQLiteGrantStore  # noqa: PLC0415

    with pytest.raises(ConfigurationError, match="AsyncSQLiteGrantStore wraps a SQLiteGrantStore"):
        AsyncSQLiteGrantStore(AsyncMemoryGrantStore())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="wraps a SQLiteClientStore"):
        AsyncSQLiteClientStore(MemoryClientStore())  # type: ignore[arg-type]
    need_module("psycopg", "psycopg_pool")
    from authcore.stores import postgres  # noqa: PLC0415

    faces: list[Any] = [
        postgres.AsyncPostgresClientStore,
        postgres.AsyncPostgresGrantStore,
        postgres.AsyncPostgresOneTimeStore,
        postgres.AsyncPostgresRateLimitStore,
    ]
    for face in faces:
        with pytest.raises(ConfigurationError, match=f"{face.__name__} wraps a Postgres"):
            face(MemoryGrantStore())
