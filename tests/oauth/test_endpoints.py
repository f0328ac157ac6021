"""OAUTH.md 3.9 and 3.10: PAR, resource indicators, introspection, revocation, metadata."""

from __future__ import annotations

import asyncio
import urllib.parse

import pytest

from authcore import errors
from authcore.http import Request, Response
from authcore.jose import jwt
from authcore.oauth import (
    PendingAuthorization,
    Policy,
    TokenFormat,
    digest,
)

from .helpers import (
    ISSUER,
    SIGNING_KEY,
    TOKEN_URL,
    VERIFIER,
    Env,
    async_twin,
    authorize_request,
    body,
    code_params,
    get_code,
    introspect,
    location_params,
    make_env,
    post,
    redeem,
    refresh,
    tokens,
)

PAR_URL = ISSUER + "/par"


def _push(env: Env, client: str = "web", **overrides: str) -> Response:
    params = code_params(**overrides)
    if client != "web":
        params["client_id"] = client
    return env.server.par_endpoint(post(PAR_URL, params, client=client))


def _authorize_with(env: Env, request_uri: str, client_id: str = "web") -> object:
    return env.server.begin_authorization(
        authorize_request(client_id=client_id, request_uri=request_uri)
    )


def test_par_response_and_single_use() -> None:
    """201 with a urn request_uri and expires_in; usable once (RFC 9126)."""
    env = make_env()
    pushed = _push(env)
    assert pushed.status == 201
    value = body(pushed)
    assert str(value["request_uri"]).startswith("urn:ietf:params:oauth:request_uri:")
    assert value["expires_in"] == 60
    pending = _authorize_with(env, str(value["request_uri"]))
    assert isinstance(pending, PendingAuthorization)
    assert pending.state == "xyz"
    again = _authorize_with(env, str(value["request_uri"]))
    assert isinstance(again, Response)
    assert "location" not in again.headers
    assert body(again)["error"] == "invalid_request_uri"


def test_par_request_uri_expires_and_is_client_bound() -> None:
    """An expired request_uri, or one presented by another client, is refused."""
    env = make_env()
    uri = str(body(_push(env))["request_uri"])
    wrong = _authorize_with(env, uri, "web2")
    assert isinstance(wrong, Response)
    assert body(wrong)["error"] == "invalid_request_uri"
    env.advance(60)
    expired = _authorize_with(env, uri)
    assert isinstance(expired, Response)
    assert body(expired)["error"] == "invalid_request_uri"


def test_par_requires_client_authentication_and_refuses_request_uri() -> None:
    """A confidential client must authenticate; request_uri inside PAR is invalid_request."""
    env = make_env()
    unauthenticated = env.server.par_endpoint(post(PAR_URL, code_params(), client=None))
    assert body(unauthenticated)["error"] == "invalid_client"
    nested = _push(env, request_uri="urn:ietf:params:oauth:request_uri:x")
    assert body(nested)["error"] == "invalid_request"
    bad_redirect = _push(env, redirect_uri="https://evil.example/cb")
    assert bad_redirect.status == 400
    assert body(bad_redirect)["error"] == "invalid_request"


def test_require_pushed_authorization_requests() -> None:
    """With PAR required, a plain request is refused at the redirect URI."""
    env = make_env(policy=Policy(scopes=("read",), require_pushed_authorization_requests=True))
    result = env.server.begin_authorization(authorize_request(**code_params()))
    assert isinstance(result, Response)
    assert location_params(result)["error"] == "invalid_request"
    uri = str(body(_push(env))["request_uri"])
    assert isinstance(_authorize_with(env, uri), PendingAuthorization)
    assert body(env.server.metadata())["require_pushed_authorization_requests"] is True


def test_resource_indicator_restricts_audience() -> None:
    """An allowed resource becomes the token's aud; others are invalid_target (RFC 8707)."""
    env = make_env()
    code = get_code(env, resource="https://api.example/")
    access = body(redeem(env, code))["access_token"]
    assert jwt.decode_unverified(access).claims["aud"] == "https://api.example/"
    for bad in ("https://other.example/", "relative", "https://api.example/#frag"):
        result = env.server.begin_authorization(authorize_request(**code_params(resource=bad)))
        assert isinstance(result, Response)
        assert location_params(result)["error"] == "invalid_target"


def test_introspection_inactive_is_exactly_active_false() -> None:
    """Unknown, expired and revoked tokens are exactly {"active": false} (RFC 7662)."""
    env = make_env()
    issued = tokens(env)
    assert introspect(env, "unknown") == {"active": False}
    assert introspect(env, issued["access_token"] + "x") == {"active": False}
    info = introspect(env, issued["access_token"])
    assert info["active"] is True
    assert info["sub"] == "alice"
    assert info["scope"] == "read"
    env.advance(600)
    assert introspect(env, issued["access_token"]) == {"active": False}


def test_introspection_requires_client_authentication() -> None:
    """The caller must authenticate (RFC 7662 section 2.1)."""
    env = make_env()
    response = env.server.introspection_endpoint(
        post(ISSUER + "/introspect", {"token": "x"}, client=None)
    )
    assert response.status == 400
    assert body(response)["error"] == "invalid_client"


def test_revoked_jwt_access_token_reports_inactive() -> None:
    """A revoked JWT access token is inactive: JWTs are recorded by jti."""
    env = make_env()
    access = tokens(env)["access_token"]
    response = env.server.revocation_endpoint(post(ISSUER + "/revoke", {"token": access}))
    assert response.status == 200
    assert introspect(env, access) == {"active": False}


def test_opaque_access_tokens() -> None:
    """Opaque access tokens are random, stored by digest, and introspectable."""
    env = make_env(policy=Policy(scopes=("read",), access_token_format=TokenFormat.OPAQUE))
    access = tokens(env)["access_token"]
    assert access.count(".") == 0
    assert env.store.get(digest(access)) is not None
    assert introspect(env, access)["active"] is True


@pytest.mark.parametrize("access_token_format", [TokenFormat.JWT, TokenFormat.OPAQUE])
def test_revocation_rules(access_token_format: TokenFormat) -> None:
    """200 for unknown tokens and unknown hints; another client's token is refused, left alone.

    RFC 7009 section 2.1: the server "verifies whether the token was issued to the client
    making the revocation request.  If this validation fails, the request is refused and the
    client is informed of the error".
    """
    env = make_env(policy=Policy(scopes=("read", "write"), access_token_format=access_token_format))
    issued = tokens(env)
    revoke = ISSUER + "/revoke"
    assert env.server.revocation_endpoint(post(revoke, {"token": "nope"})).status == 200
    for token in (issued["refresh_token"], issued["access_token"]):
        other = env.server.revocation_endpoint(
            post(revoke, {"token": token, "token_type_hint": "weird"}, client="web2")
        )
        assert other.status == 400
        assert body(other)["error"] == "invalid_grant"
        assert introspect(env, token)["active"] is True
    assert refresh(env, issued["refresh_token"]).status == 200
    missing = env.server.revocation_endpoint(post(revoke, {}))
    assert body(missing)["error"] == "invalid_request"


def test_metadata_lists_every_endpoint() -> None:
    """RFC 8414 metadata: issuer, endpoints, S256 only, iss parameter support."""
    value = body(make_env().server.metadata())
    assert value["issuer"] == ISSUER
    for name in (
        "authorization_endpoint",
        "token_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "device_authorization_endpoint",
        "pushed_authorization_request_endpoint",
        "jwks_uri",
    ):
        assert str(value[name]).startswith(ISSUER + "/")
    assert value["code_challenge_methods_supported"] == ["S256"]
    assert value["response_types_supported"] == ["code"]
    assert "password" not in value["grant_types_supported"]
    assert value["authorization_response_iss_parameter_supported"] is True


def test_jwks_serves_public_keys_only() -> None:
    """The JWKS document holds the public signing key."""
    value = body(make_env().server.jwks())
    assert value == {"keys": [SIGNING_KEY.public().to_dict()]}
    assert "d" not in value["keys"][0]


def test_async_server_runs_the_same_flows() -> None:
    """AsyncAuthorizationServer: code flow, replay revocation, introspection."""
    server = async_twin(make_env())

    async def flow() -> None:
        pending = await server.begin_authorization(authorize_request(**code_params()))
        assert isinstance(pending, PendingAuthorization)
        location = (await server.complete_authorization(pending, subject="bob")).headers["location"]
        code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))["code"]
        params = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "https://app.example/cb",
            "code_verifier": VERIFIER,
        }
        first = await server.token_endpoint(post(TOKEN_URL, params))
        assert first.status == 200
        replay = await server.token_endpoint(post(TOKEN_URL, params))
        assert body(replay)["error"] == "invalid_grant"
        token = body(first)["access_token"]
        info = await server.introspection_endpoint(post(ISSUER + "/introspect", {"token": token}))
        assert body(info) == {"active": False}
        assert (
            await server.revocation_endpoint(post(ISSUER + "/revoke", {"token": "x"}))
        ).status == 200
        started = await server.device_authorization_endpoint(
            post(ISSUER + "/device_authorization", {"client_id": "spa"}, client=None)
        )
        user_code = str(body(started)["user_code"])
        await server.complete_device_authorization(user_code, subject="bob")
        pushed = await server.par_endpoint(post(PAR_URL, code_params()))
        assert pushed.status == 201
        assert server.metadata().status == 200
        assert server.jwks().status == 200

    asyncio.run(flow())


def test_error_strings_are_exact() -> None:
    """The wire error strings are the RFC's (RFC 6749 5.2, RFC 8628 3.5)."""
    expected: dict[type[errors.OAuthError], str] = {
        errors.InvalidRequest: "invalid_request",
        errors.InvalidClient: "invalid_client",
        errors.InvalidGrant: "invalid_grant",
        errors.UnauthorizedClient: "unauthorized_client",
        errors.UnsupportedGrantType: "unsupported_grant_type",
        errors.InvalidScope: "invalid_scope",
        errors.UnsupportedResponseType: "unsupported_response_type",
        errors.AccessDenied: "access_denied",
        errors.OAuthServerError: "server_error",
        errors.TemporarilyUnavailable: "temporarily_unavailable",
        errors.AuthorizationPending: "authorization_pending",
        errors.SlowDown: "slow_down",
        errors.DeviceCodeExpired: "expired_token",
        errors.InvalidTarget: "invalid_target",
        errors.UnsupportedTokenType: "unsupported_token_type",
        errors.InvalidRequestURI: "invalid_request_uri",
    }
    for cls, error in expected.items():
        assert cls.error == error
    assert not errors.UnknownClient.redirectable
    assert not errors.InvalidRedirectURI.redirectable
    with pytest.raises(TypeError):
        errors.OAuthError("abstract")


def test_wrong_method_and_content_type() -> None:
    """GET to the token endpoint, or a JSON body, is invalid_request."""
    env = make_env()
    get = Request(method="GET", url=TOKEN_URL + "?grant_type=client_credentials")
    assert body(env.server.token_endpoint(get))["error"] == "invalid_request"
    as_json = Request(
        method="POST",
        url=TOKEN_URL,
        headers={"Content-Type": "application/json"},
        body=b'{"grant_type": "client_credentials"}',
    )
    assert body(env.server.token_endpoint(as_json))["error"] == "invalid_request"


def test_public_clients_cannot_introspect() -> None:
    """A client_id alone does not open the introspection endpoint (RFC 7662 section 4)."""
    env = make_env()
    access = tokens(env)["access_token"]
    response = env.server.introspection_endpoint(
        post(ISSUER + "/introspect", {"token": access, "client_id": "spa"}, client=None)
    )
    assert response.status == 400
    assert body(response)["error"] == "invalid_client"
