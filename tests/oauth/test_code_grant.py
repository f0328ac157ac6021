"""OAUTH.md 3.2 and 3.3 (token side), and the token response format."""

from __future__ import annotations

from typing import TYPE_CHECKING

from authcore.errors import StoreError
from authcore.http import Response
from authcore.jose import jwt
from authcore.oauth import Effect, Policy
from authcore.stores.memory import MemoryGrantStore

from .helpers import (
    ISSUER,
    SIGNING_KEY,
    TOKEN_URL,
    VERIFIER,
    authorize_request,
    body,
    code_params,
    get_code,
    introspect,
    make_env,
    post,
    redeem,
    refresh,
    tokens,
)

if TYPE_CHECKING:
    from collections.abc import Sequence


def _error(response: object) -> str:
    assert isinstance(response, Response)
    assert response.status == 400, response.status
    assert response.headers["cache-control"] == "no-store"
    return str(body(response)["error"])


def test_token_response_format() -> None:
    """200 JSON with no-store, Bearer, expires_in, scope, refresh token (RFC 6749 5.1)."""
    env = make_env()
    response = redeem(env, get_code(env))
    assert response.status == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "application/json"
    value = body(response)
    assert value["token_type"] == "Bearer"
    assert value["expires_in"] == 600
    assert value["scope"] == "read"
    assert len(value["refresh_token"]) == 43


def test_jwt_access_token_is_rfc9068() -> None:
    """The header typ is at+jwt, with iss, sub, aud, client_id, scope, jti, iat, exp."""
    env = make_env()
    access = tokens(env)["access_token"]
    claims = jwt.decode(
        access,
        SIGNING_KEY.public(),
        algorithms=["ES256"],
        issuer=ISSUER,
        audience=ISSUER,
        typ="at+jwt",
        required=("exp", "iat", "jti", "sub", "client_id"),
        now=env.clock.now(),
    )
    assert claims["sub"] == "alice"
    assert claims["client_id"] == "web"
    assert claims["scope"] == "read"
    assert claims["exp"] - claims["iat"] == 600
    assert jwt.decode_unverified(access).header["typ"] == "at+jwt"


def test_code_expires_after_60_seconds_by_default() -> None:
    """A code redeemed at its expiry is invalid_grant (3.2.1)."""
    env = make_env()
    code = get_code(env)
    env.advance(60)
    assert _error(redeem(env, code)) == "invalid_grant"
    env = make_env()
    code = get_code(env)
    env.advance(59)
    assert redeem(env, code).status == 200


def test_code_bound_to_client() -> None:
    """Another authenticated client cannot redeem the code, and nothing is revoked (3.2.2)."""
    env = make_env()
    code = get_code(env)
    assert _error(redeem(env, code, "web2")) == "invalid_grant"
    assert redeem(env, code).status == 200


def test_redirect_uri_must_repeat_at_token_endpoint() -> None:
    """If the authorization request named redirect_uri, the token request repeats it (3.2.3)."""
    env = make_env()
    code = get_code(env)
    assert _error(redeem(env, code, redirect_uri="<omit>")) == "invalid_grant"
    assert _error(redeem(env, code, redirect_uri="https://app.example/cb/")) == "invalid_grant"
    assert redeem(env, code).status == 200
    env = make_env()
    code = get_code(env, redirect_uri="<omit>")
    assert redeem(env, code, redirect_uri="<omit>").status == 200


def test_code_single_use() -> None:
    """A second redemption fails (concurrency: tests/oauth/test_stores.py) (3.2.4)."""
    env = make_env()
    code = get_code(env)
    assert redeem(env, code).status == 200
    assert _error(redeem(env, code)) == "invalid_grant"


def test_valid_replay_revokes_the_grant() -> None:
    """A valid replay revokes the access and refresh tokens of the first redemption (3.2.5)."""
    env = make_env()
    code = get_code(env)
    first = body(redeem(env, code))
    assert introspect(env, first["access_token"])["active"] is True
    assert _error(redeem(env, code)) == "invalid_grant"
    assert introspect(env, first["access_token"]) == {"active": False}
    assert introspect(env, first["refresh_token"]) == {"active": False}
    assert _error(refresh(env, first["refresh_token"])) == "invalid_grant"


def test_invalid_replay_revokes_nothing() -> None:
    """A replay with a wrong verifier or from another client revokes nothing (3.2.6)."""
    env = make_env()
    code = get_code(env)
    first = body(redeem(env, code))
    assert _error(redeem(env, code, code_verifier="x" * 43)) == "invalid_grant"
    assert _error(redeem(env, code, "web2")) == "invalid_grant"
    assert _error(redeem(env, code, code_verifier="<omit>")) == "invalid_grant"
    assert introspect(env, first["access_token"])["active"] is True


class _FailingStore(MemoryGrantStore):
    """Fails the first apply that issues tokens, like a crash during issuance."""

    fail = True

    def apply(self, effects: Sequence[Effect]) -> bool:
        if self.fail and len(effects) > 1:
            self.fail = False
            raise StoreError("disk full")
        return super().apply(effects)


def test_lost_response_leaves_code_unused() -> None:
    """If issuing fails, the code is not consumed: consume and issue are one apply (3.2.7)."""
    store = _FailingStore()
    env = make_env(store=store)
    code = get_code(env)
    failed = redeem(env, code)
    assert failed.status == 500
    assert body(failed)["error"] == "server_error"
    assert redeem(env, code).status == 200


def test_verifier_grammar_at_token_endpoint() -> None:
    """A malformed verifier is invalid_grant (3.3.1)."""
    env = make_env()
    code = get_code(env)
    for bad in ("a" * 42, "a" * 129, VERIFIER[:-1] + "+"):
        assert _error(redeem(env, code, code_verifier=bad)) == "invalid_grant"
    assert redeem(env, code).status == 200


def test_pkce_downgrade_refused_at_token_endpoint() -> None:
    """A verifier for a code issued without a challenge is refused (3.3.6)."""
    env = make_env(policy=Policy(scopes=("read", "write"), require_pkce=False))
    code = get_code(env, code_challenge="<omit>", code_challenge_method="<omit>")
    assert _error(redeem(env, code)) == "invalid_grant"
    assert redeem(env, code, code_verifier="<omit>").status == 200


def test_public_client_code_flow() -> None:
    """A public client redeems with client_id only, and must use PKCE."""
    env = make_env()
    assert redeem(env, get_code(env, "spa"), "spa").status == 200
    pending = env.server.begin_authorization(
        authorize_request(**code_params("spa", code_challenge="<omit>"))
    )
    assert getattr(pending, "status", None) == 302


def test_client_credentials() -> None:
    """A confidential client gets an access token for itself, without a refresh token."""
    env = make_env()
    response = env.server.token_endpoint(
        post(TOKEN_URL, {"grant_type": "client_credentials", "scope": "write"})
    )
    value = body(response)
    assert response.status == 200
    assert "refresh_token" not in value
    assert value["scope"] == "write"
    info = introspect(env, value["access_token"])
    assert info["active"] is True
    assert info["client_id"] == "web"
    assert "sub" not in info


def test_unsupported_and_missing_grant_types() -> None:
    """No implicit or password grant; missing grant_type is invalid_request (3.10)."""
    env = make_env()
    for grant in ("password", "implicit", "urn:ietf:params:oauth:grant-type:jwt-bearer"):
        response = env.server.token_endpoint(post(TOKEN_URL, {"grant_type": grant}))
        assert _error(response) == "unsupported_grant_type"
    assert _error(env.server.token_endpoint(post(TOKEN_URL, {}))) == "invalid_request"
    response = env.server.token_endpoint(post(TOKEN_URL, {"grant_type": "authorization_code"}))
    assert _error(response) == "invalid_request"
