# The oauthlib validator below overrides an untyped peer's methods with their signatures:
# unused arguments and Any are its interface, not choices.
# ruff: noqa: ARG002, ANN401
"""OAuth token endpoint decisions: authcore against oauthlib doing the same work.

There is no plain-Python floor for a token endpoint (it is a protocol, not a primitive), so
the reference is oauthlib's pre-configured ``Server`` with the smallest ``RequestValidator``
that does the same checks over dicts: client authentication (``client_secret_basic``,
SHA-256 digest compared in constant time), grant and scope checks, PKCE S256, code single
use, refresh rotation, and an opaque 256-bit access token stored by the validator.  authcore
runs :class:`~authcore.oauth.AuthorizationServer` with opaque access tokens (the same work:
no signature on either side) over its memory stores, and over SQLite for the durable case.

Each operation is one whole token request: request object in, JSON response out.  Code
redemption first stores a fresh code on both sides (authcore: one ``Insert`` effect;
oauthlib: one dict entry), so the store write of issuing a code is counted for both.
A ratio above 1 is authcore being faster than oauthlib; the goal is 2.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import hmac
import importlib.util
import json
import os
import shutil
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any, Final

from authcore._bench import Group
from authcore._encoding import b64url_encode
from authcore.clock import unix_now
from authcore.http import Request
from authcore.oauth import (
    AuthorizationCode,
    AuthorizationServer,
    ClientRecord,
    GrantStore,
    Insert,
    Policy,
    TokenFormat,
    digest,
    pkce,
)
from authcore.stores.memory import MemoryClientStore, MemoryGrantStore
from authcore.stores.sqlite import SQLiteClientStore, SQLiteGrantStore

NAME = "oauth"

ISSUER: Final = "https://as.example"
TOKEN_URL: Final = ISSUER + "/token"
CLIENT_ID: Final = "bench-client"
SECRET: Final = "bench-secret-0123456789abcdefghijklmnop"  # noqa: S105 - a bench client
REDIRECT: Final = "https://app.example/cb"
_PAIR: Final = pkce.create_pair()
_HEADERS: Final = {
    "Content-Type": "application/x-www-form-urlencoded",
    "Authorization": "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode(),
}
_REFERENCE: Final = "oauthlib Server (minimal validator)"


def _record() -> ClientRecord:
    return ClientRecord.from_metadata(
        {
            "client_id": CLIENT_ID,
            "client_secret": SECRET,
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
            "scope": "read write",
        }
    )


def _server(clients: Any, store: GrantStore) -> AuthorizationServer:
    return AuthorizationServer(
        issuer=ISSUER,
        clients=clients,
        store=store,
        policy=Policy(scopes=("read", "write"), access_token_format=TokenFormat.OPAQUE),
    )


def _post(params: dict[str, str]) -> Request:
    return Request(
        method="POST",
        url=TOKEN_URL,
        headers=_HEADERS,
        body=urllib.parse.urlencode(params).encode(),
    )


class _Authcore:
    """One server and the state its chained operations need."""

    def __init__(self, server: AuthorizationServer, store: GrantStore) -> None:
        self.server = server
        self.store = store
        self.refresh = self._first_refresh()

    def client_credentials(self) -> object:
        response = self.server.token_endpoint(
            _post({"grant_type": "client_credentials", "scope": "read"})
        )
        if response.status != 200:  # noqa: PLR2004
            raise AssertionError(response.body)
        return json.loads(response.body)["token_type"]

    def _new_code(self) -> str:
        code = b64url_encode(os.urandom(32))
        now = unix_now()
        record = AuthorizationCode(
            digest=digest(code),
            family_id=b64url_encode(os.urandom(16)),
            client_id=CLIENT_ID,
            subject="alice",
            scope=("read",),
            redirect_uri=REDIRECT,
            redirect_uri_sent=True,
            code_challenge=_PAIR.challenge,
            code_challenge_method="S256",
            issued_at=now,
            expires_at=now + 60,
        )
        if not self.store.apply((Insert(record=record),)):
            raise AssertionError("code not stored")
        return code

    def _redeem_fresh_code(self) -> dict[str, Any]:
        response = self.server.token_endpoint(
            _post(
                {
                    "grant_type": "authorization_code",
                    "code": self._new_code(),
                    "redirect_uri": REDIRECT,
                    "code_verifier": _PAIR.verifier,
                }
            )
        )
        if response.status != 200:  # noqa: PLR2004
            raise AssertionError(response.body)
        return dict(json.loads(response.body))

    def redeem(self) -> object:
        return self._redeem_fresh_code()["token_type"]

    def _first_refresh(self) -> str:
        return str(self._redeem_fresh_code()["refresh_token"])

    def rotate(self) -> object:
        response = self.server.token_endpoint(
            _post({"grant_type": "refresh_token", "refresh_token": self.refresh})
        )
        body = json.loads(response.body)
        if response.status != 200 or body["refresh_token"] == self.refresh:  # noqa: PLR2004
            raise AssertionError(response.body)
        self.refresh = body["refresh_token"]
        return body["token_type"]


def _oauthlib_cases() -> dict[str, Any] | None:  # noqa: C901 - one validator, as users write it
    """The three operations through oauthlib, or ``None`` when it is not installed."""
    if importlib.util.find_spec("oauthlib") is None:
        return None
    from oauthlib.oauth2 import RequestValidator, Server  # noqa: PLC0415 - optional peer

    stored_secret = hashlib.sha256(SECRET.encode()).digest()

    class Client:
        client_id = CLIENT_ID

    class Validator(RequestValidator):  # type: ignore[misc]  # untyped peer
        def __init__(self) -> None:
            self.codes: dict[str, dict[str, Any]] = {}
            self.refresh: dict[str, dict[str, Any]] = {}
            self.access: dict[str, dict[str, Any]] = {}

        def client_authentication_required(self, request: Any, *a: Any, **k: Any) -> bool:
            return True

        def authenticate_client(self, request: Any, *a: Any, **k: Any) -> bool:
            auth = request.headers.get("Authorization", "")
            raw = base64.b64decode(auth.partition(" ")[2]).decode()
            client_id, _, secret = raw.partition(":")
            given = hashlib.sha256(urllib.parse.unquote_plus(secret).encode()).digest()
            if client_id != CLIENT_ID or not hmac.compare_digest(given, stored_secret):
                return False
            request.client = Client()
            request.client_id = CLIENT_ID
            return True

        def validate_grant_type(self, client_id: str, grant_type: str, *a: Any, **k: Any) -> bool:
            return grant_type in {"authorization_code", "refresh_token", "client_credentials"}

        def get_default_scopes(self, client_id: str, request: Any, *a: Any, **k: Any) -> list[str]:
            return ["read"]

        def validate_scopes(self, client_id: str, scopes: list[str], *a: Any, **k: Any) -> bool:
            return set(scopes) <= {"read", "write"}

        def validate_code(self, client_id: str, code: str, client: Any, request: Any) -> bool:
            record = self.codes.get(code)
            if record is None or record["client_id"] != client_id or record["used"]:
                return False
            request.user = record["user"]
            request.scopes = record["scopes"]
            return True

        def confirm_redirect_uri(
            self, client_id: str, code: str, redirect_uri: str, *a: Any, **k: Any
        ) -> bool:
            return bool(self.codes[code]["redirect_uri"] == redirect_uri)

        def is_pkce_required(self, client_id: str, request: Any) -> bool:
            return True

        def get_code_challenge(self, code: str, request: Any) -> str:
            return str(self.codes[code]["challenge"])

        def get_code_challenge_method(self, code: str, request: Any) -> str:
            return "S256"

        def invalidate_authorization_code(self, client_id: str, code: str, request: Any) -> None:
            self.codes[code]["used"] = True

        def validate_refresh_token(
            self, refresh_token: str, client: Any, request: Any, *a: Any, **k: Any
        ) -> bool:
            record = self.refresh.get(refresh_token)
            if record is None or record["client_id"] != client.client_id or record["used"]:
                return False
            record["used"] = True
            request.user = record["user"]
            return True

        def get_original_scopes(self, refresh_token: str, request: Any, *a: Any, **k: Any) -> Any:
            return self.refresh[refresh_token]["scopes"]

        def rotate_refresh_token(self, request: Any) -> bool:
            return True

        def save_bearer_token(self, token: dict[str, Any], request: Any, *a: Any, **k: Any) -> None:
            record = {"client_id": CLIENT_ID, "user": request.user, "scopes": request.scopes}
            self.access[hashlib.sha256(token["access_token"].encode()).hexdigest()] = record
            if "refresh_token" in token:
                self.refresh[token["refresh_token"]] = {**record, "used": False}

    validator = Validator()
    server = Server(validator)
    state = {"refresh": ""}

    def call(params: dict[str, str]) -> dict[str, Any]:
        _, body, status = server.create_token_response(
            TOKEN_URL, "POST", urllib.parse.urlencode(params), dict(_HEADERS)
        )
        if status != 200:  # noqa: PLR2004
            raise AssertionError(body)
        return dict(json.loads(body))

    def new_code() -> str:
        code = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
        validator.codes[code] = {
            "client_id": CLIENT_ID,
            "user": "alice",
            "scopes": ["read"],
            "redirect_uri": REDIRECT,
            "challenge": _PAIR.challenge,
            "used": False,
        }
        return code

    def redeem_params() -> dict[str, str]:
        return {
            "grant_type": "authorization_code",
            "code": new_code(),
            "redirect_uri": REDIRECT,
            "code_verifier": _PAIR.verifier,
        }

    def client_credentials() -> object:
        return call({"grant_type": "client_credentials", "scope": "read"})["token_type"]

    def redeem() -> object:
        return call(redeem_params())["token_type"]

    def rotate() -> object:
        body = call({"grant_type": "refresh_token", "refresh_token": state["refresh"]})
        state["refresh"] = body["refresh_token"]
        return body["token_type"]

    state["refresh"] = call(redeem_params())["refresh_token"]
    return {"client_credentials": client_credentials, "redeem": redeem, "rotate": rotate}


def groups(quick: bool) -> list[Group]:  # noqa: FBT001 - suite protocol
    """client_credentials, code redemption and refresh rotation, authcore against oauthlib."""
    del quick  # one client, one operation per call: nothing to scale down
    directory = tempfile.mkdtemp(prefix="authcore-bench-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    memory_store = MemoryGrantStore()
    memory = _Authcore(_server(MemoryClientStore([_record()]), memory_store), memory_store)
    sqlite_clients = SQLiteClientStore(Path(directory) / "oauth.db")
    sqlite_clients.add(_record())
    sqlite_store = SQLiteGrantStore(Path(directory) / "oauth.db")
    atexit.register(sqlite_store.close)
    atexit.register(sqlite_clients.close)
    sqlite = _Authcore(_server(sqlite_clients, sqlite_store), sqlite_store)
    peer = _oauthlib_cases()
    result = []
    for label, operation in (
        ("client_credentials", "client_credentials"),
        ("authorization_code redemption (PKCE)", "redeem"),
        ("refresh_token rotation", "rotate"),
    ):
        cases: dict[str, Any] = {}
        if peer is not None:
            cases[_REFERENCE] = peer[operation]
        cases["AuthorizationServer (memory)"] = getattr(memory, operation)
        cases["AuthorizationServer (SQLite)"] = getattr(sqlite, operation)
        for name, case in cases.items():
            if case() != "Bearer":  # pragma: no cover - smoke check
                raise AssertionError(f"{name}: {operation} did not issue a Bearer token")
        result.append(
            Group(
                name=f"OAuth token endpoint: {label}",
                floor=_REFERENCE if peer is not None else "AuthorizationServer (memory)",
                reference=True,
                cases=cases,
                note=(
                    "reference, not a floor: oauthlib doing the same checks over dicts "
                    "(ratio > 1: authcore is faster; goal 2)"
                    if peer is not None
                    else "oauthlib is not installed (pip install 'authcore-py[bench]')"
                ),
            )
        )
    return result
