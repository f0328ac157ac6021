"""A test harness for the authorization server: clients, requests, and one full flow."""

from __future__ import annotations

import base64
import datetime as dt
import json
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from authcore.clock import FixedClock
from authcore.http import Request, Response
from authcore.jose import JWK
from authcore.jose.keyring import KeyRing
from authcore.oauth import (
    AsyncAuthorizationServer,
    AuthorizationServer,
    ClientRecord,
    GrantStore,
    PendingAuthorization,
    Policy,
    pkce,
)
from authcore.stores.memory import (
    AsyncMemoryClientStore,
    AsyncMemoryGrantStore,
    MemoryClientStore,
    MemoryGrantStore,
    MemoryOneTimeStore,
    MemoryRateLimitStore,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

ISSUER = "https://as.example"
TOKEN_URL = ISSUER + "/token"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
ALL_GRANTS = ["authorization_code", "refresh_token", "client_credentials", DEVICE]
CLIENT_KEY = JWK.generate("ES256", kid="client-key")
SIGNING_KEY = JWK.generate("ES256", kid="as-key")
HS_SECRET = "hs-secret-of-32-bytes-or-more-000000"

CLIENTS: dict[str, dict[str, object]] = {
    "web": {
        "client_id": "web",
        "client_secret": "web-secret-0123456789abcdefghijklmnop",
        "redirect_uris": ["https://app.example/cb"],
        "grant_types": ALL_GRANTS,
        "scope": "read write",
    },
    "web2": {
        "client_id": "web2",
        "client_secret": "web2-secret-0123456789abcdefghijklmnop",
        "redirect_uris": ["https://app.example/cb", "https://app.example/other"],
        "grant_types": ALL_GRANTS,
        "scope": "read write",
    },
    "post": {
        "client_id": "post",
        "client_secret": "post secret/with+odd:chars-0123456789",
        "token_endpoint_auth_method": "client_secret_post",
        "redirect_uris": ["https://post.example/cb"],
        "grant_types": ALL_GRANTS,
        "scope": "read",
    },
    "spa": {
        "client_id": "spa",
        "token_endpoint_auth_method": "none",
        "redirect_uris": ["https://spa.example/cb"],
        "grant_types": ["authorization_code", "refresh_token", DEVICE],
        "scope": "read write",
    },
    "native": {
        "client_id": "native",
        "token_endpoint_auth_method": "none",
        "application_type": "native",
        "redirect_uris": ["http://127.0.0.1:8000/cb", "http://[::1]/cb", "com.example.app:/cb"],
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "read",
    },
    "pkjwt": {
        "client_id": "pkjwt",
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [CLIENT_KEY.public().to_dict()]},
        "grant_types": ["client_credentials"],
        "scope": "read",
    },
    "hsjwt": {
        "client_id": "hsjwt",
        "client_secret": HS_SECRET,
        "token_endpoint_auth_method": "client_secret_jwt",
        "grant_types": ["client_credentials"],
        "scope": "read",
    },
}


@dataclass
class Env:
    """One server with its clock and stores."""

    server: AuthorizationServer
    clock: FixedClock
    store: GrantStore
    clients: MemoryClientStore
    one_time: MemoryOneTimeStore = field(default_factory=MemoryOneTimeStore)

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.clock.advance(seconds)


def make_env(
    *,
    store: GrantStore | None = None,
    policy: Policy | None = None,
    extra: Mapping[str, Mapping[str, object]] | None = None,
) -> Env:
    """A server over memory stores (or ``store``) with the standard clients."""
    clock = FixedClock(T0)
    clients = MemoryClientStore(
        ClientRecord.from_metadata(m) for m in {**CLIENTS, **(extra or {})}.values()
    )
    grants = store if store is not None else MemoryGrantStore()
    one_time = MemoryOneTimeStore()
    server = AuthorizationServer(
        issuer=ISSUER,
        clients=clients,
        store=grants,
        keys=KeyRing.create(SIGNING_KEY, now=T0 - dt.timedelta(days=1), clock=clock),
        policy=policy or Policy(scopes=("read", "write"), resources=("https://api.example/",)),
        one_time=one_time,
        rate_limits=MemoryRateLimitStore(),
        clock=clock,
    )
    return Env(server=server, clock=clock, store=grants, clients=clients, one_time=one_time)


def async_twin(env: Env) -> AsyncAuthorizationServer:
    """An async server with ``env``'s clients, keys, policy, limits and clock; no grants yet."""
    return AsyncAuthorizationServer(
        issuer=ISSUER,
        clients=AsyncMemoryClientStore(env.clients),
        store=AsyncMemoryGrantStore(),
        keys=env.server.keys,
        policy=env.server.policy,
        rate_limits=env.server.rate_limits,
        clock=env.clock,
    )


def basic(client_id: str, secret: str) -> str:
    """An Authorization header value for client_secret_basic (form-encoded first)."""
    raw = urllib.parse.quote_plus(client_id) + ":" + urllib.parse.quote_plus(secret)
    return "Basic " + base64.b64encode(raw.encode()).decode()


SECRETS = {
    "web": "web-secret-0123456789abcdefghijklmnop",
    "web2": "web2-secret-0123456789abcdefghijklmnop",
}


def post(
    url: str,
    params: Mapping[str, str],
    *,
    client: str | None = "web",
    headers: Mapping[str, str] | None = None,
) -> Request:
    """A form POST, authenticated with Basic for ``client`` when it has a secret."""
    all_headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    if client in SECRETS:
        all_headers["Authorization"] = basic(client, SECRETS[client])
    return Request(
        method="POST",
        url=url,
        headers=all_headers,
        body=urllib.parse.urlencode(dict(params)).encode(),
    )


def authorize_request(**params: str) -> Request:
    """A GET to the authorization endpoint."""
    return Request(method="GET", url=ISSUER + "/authorize?" + urllib.parse.urlencode(params))


def code_params(which: str = "web", **overrides: str) -> dict[str, str]:
    """A valid authorization request for client ``which`` (PKCE S256 with the RFC pair)."""
    redirect = {
        "web": "https://app.example/cb",
        "web2": "https://app.example/cb",
        "post": "https://post.example/cb",
        "spa": "https://spa.example/cb",
        "native": "http://127.0.0.1:8000/cb",
    }[which]
    params = {
        "response_type": "code",
        "client_id": which,
        "redirect_uri": redirect,
        "scope": "read",
        "state": "xyz",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v != "<omit>"}


VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"


def location_params(response: Response) -> dict[str, str]:
    """The query parameters of a redirect's Location."""
    assert response.status == 302, response.body
    query = urllib.parse.urlsplit(response.headers["location"]).query
    return dict(urllib.parse.parse_qsl(query, keep_blank_values=True))


def get_code(env: Env, client_id: str = "web", **overrides: str) -> str:
    """Run the authorization endpoint and approve for alice; return the code."""
    pending = env.server.begin_authorization(
        authorize_request(**code_params(client_id, **overrides))
    )
    assert isinstance(pending, PendingAuthorization), getattr(pending, "body", pending)
    return location_params(env.server.complete_authorization(pending, subject="alice"))["code"]


def body(response: Response) -> dict[str, Any]:
    """The JSON body of a response."""
    value = json.loads(response.body)
    assert isinstance(value, dict)
    return value


def redeem(env: Env, code: str, client_id: str = "web", **overrides: str) -> Response:
    """Redeem a code at the token endpoint."""
    params = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": code_params(client_id)["redirect_uri"],
        "code_verifier": VERIFIER,
    }
    if client_id not in SECRETS:
        params["client_id"] = client_id
    params.update(overrides)
    params = {k: v for k, v in params.items() if v != "<omit>"}
    return env.server.token_endpoint(post(TOKEN_URL, params, client=client_id))


def tokens(env: Env, client_id: str = "web") -> dict[str, Any]:
    """A full code flow; the token response body."""
    response = redeem(env, get_code(env, client_id), client_id)
    assert response.status == 200, response.body
    return body(response)


def refresh(env: Env, token: str, client_id: str = "web", **extra: str) -> Response:
    """Present a refresh token."""
    params = {"grant_type": "refresh_token", "refresh_token": token, **extra}
    if client_id not in SECRETS:
        params["client_id"] = client_id
    return env.server.token_endpoint(post(TOKEN_URL, params, client=client_id))


def introspect(env: Env, token: str, client: str = "web") -> dict[str, Any]:
    """Introspect as ``client`` (a confidential client with a secret)."""
    response = env.server.introspection_endpoint(
        post(ISSUER + "/introspect", {"token": token}, client=client)
    )
    assert response.status == 200
    return body(response)


def verifier_pair() -> pkce.PKCEPair:
    """A fresh PKCE pair."""
    return pkce.create_pair()


class AsyncOneTime:
    """An async one-time store (as ``AsyncRedisOneTimeStore``) over a memory one."""

    def __init__(self) -> None:
        self.sync = MemoryOneTimeStore()
        self.adds = 0

    async def add(self, key: str, *, expires_at: dt.datetime, now: dt.datetime) -> bool:
        self.adds += 1
        return self.sync.add(key, expires_at=expires_at, now=now)

    async def contains(self, key: str, *, now: dt.datetime) -> bool:
        return self.sync.contains(key, now=now)
