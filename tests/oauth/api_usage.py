"""Type-checked, never run: the OAuth server API as users write it."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from authcore.jose import JWK
from authcore.jose.keyring import KeyRing
from authcore.oauth import (
    AsyncAuthorizationServer,
    AuthorizationServer,
    ClientRecord,
    ClientStore,
    DeviceCode,
    GrantStore,
    PendingAuthorization,
    Policy,
    RefreshFamilies,
    TokenFormat,
    pkce,
)
from authcore.stores.memory import MemoryClientStore, MemoryGrantStore, MemoryOneTimeStore
from authcore.stores.sqlite import (
    AsyncSQLiteClientStore,
    AsyncSQLiteGrantStore,
    SQLiteClientStore,
    SQLiteGrantStore,
)

if TYPE_CHECKING:
    from authcore.http import Request, Response


def build(path: str) -> tuple[AuthorizationServer, AsyncAuthorizationServer]:
    """A sync server over SQLite and an async one over the same file."""
    clients: ClientStore = SQLiteClientStore(path)
    grants: GrantStore = SQLiteGrantStore(path)
    ring = KeyRing.create(JWK.generate("ES256", kid="k"))
    policy = Policy(scopes=("read",), access_token_format=TokenFormat.JWT, code_lifetime=60)
    sync = AuthorizationServer(
        issuer="https://as.example", clients=clients, store=grants, keys=ring, policy=policy
    )
    asynchronous = AsyncAuthorizationServer(
        issuer="https://as.example",
        clients=AsyncSQLiteClientStore(SQLiteClientStore(path)),
        store=AsyncSQLiteGrantStore(SQLiteGrantStore(path)),
        keys=ring,
        one_time=MemoryOneTimeStore(),
    )
    return sync, asynchronous


def authorize(server: AuthorizationServer, request: Request) -> Response:
    """Approve at once for one user, or pass the error response through."""
    pending = server.begin_authorization(request)
    if isinstance(pending, PendingAuthorization):
        return server.complete_authorization(pending, subject="u", scopes=pending.scope)
    return pending


def device(server: AuthorizationServer, user_code: str) -> DeviceCode:
    """Approve a device flow's user code."""
    return server.complete_device_authorization(
        user_code, subject="u", rate_limit_key="10.0.0.1", now=dt.datetime.now(dt.timezone.utc)
    )


def memory() -> AuthorizationServer:
    """A server over the memory stores."""
    record = ClientRecord.from_metadata({"client_id": "c", "token_endpoint_auth_method": "none"})
    return AuthorizationServer(
        issuer="https://as.example",
        clients=MemoryClientStore([record]),
        store=MemoryGrantStore(),
        policy=Policy(access_token_format=TokenFormat.OPAQUE),
    )


def pair() -> tuple[str, str]:
    """A PKCE pair."""
    created = pkce.create_pair()
    return created.verifier, created.challenge


FAMILIES = RefreshFamilies(absolute_lifetime=86400, idle_lifetime=3600, rotate=True)
