"""One test per OAuth advisory class of OAUTH.md 3.11 and 3.12 that applies to a server."""

from __future__ import annotations

import base64
import json
import urllib.parse

from authcore.http import Request, Response
from authcore.jose import JWK, jwt
from authcore.oauth import PendingAuthorization, Policy

from .helpers import (
    CLIENT_KEY,
    ISSUER,
    TOKEN_URL,
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

ATTACKER = "https://attacker.example/cb"


def _begin(**overrides: str) -> PendingAuthorization | Response:
    url = ISSUER + "/authorize?" + urllib.parse.urlencode(code_params(**overrides))
    return make_env().server.begin_authorization(Request(method="GET", url=url))


def _no_redirect(result: PendingAuthorization | Response) -> None:
    assert isinstance(result, Response)
    assert result.status == 400
    assert "location" not in result.headers
    assert "attacker" not in result.body.decode()


def test_ghsa_w8p2_r796_3vmq_unsupported_response_type_no_open_redirect() -> None:
    """CVE-2026-41479: unsupported response_type + bad scope + attacker URI: no redirect."""
    _no_redirect(_begin(response_type="token", scope="bad!scope", redirect_uri=ATTACKER))
    _no_redirect(_begin(response_type="id_token token", redirect_uri=ATTACKER))


def test_ghsa_r95x_qfjj_fjj2_invalid_scope_no_open_redirect() -> None:
    """CVE-2026-44681: an invalid scope with an unvalidated redirect URI does not redirect."""
    _no_redirect(_begin(scope="admin", redirect_uri=ATTACKER))
    _no_redirect(_begin(scope="admin", client_id="unknown", redirect_uri=ATTACKER))


def test_cve_2022_36087_redirect_uri_redos() -> None:
    """A crafted IPv6 redirect URI is refused quickly: bounded and compared, never regexed."""
    crafted = "http://[" + "::" * 500 + "1" * 500 + "]/cb"
    # Timings are never asserted: a catastrophic backtrack would hang the test instead.
    _no_redirect(_begin(redirect_uri=crafted))


def test_userinfo_in_redirect_uri_refused() -> None:
    """Authlib 1.8.0 hardening: http://localhost:80@attacker.test/cb never matches."""
    env = make_env()
    params = code_params("native", redirect_uri="http://127.0.0.1:80@attacker.test/cb")
    url = ISSUER + "/authorize?" + urllib.parse.urlencode(params)
    _no_redirect(env.server.begin_authorization(Request(method="GET", url=url)))


def test_pkce_downgrade_oauthlib_class() -> None:
    """Where oauthlib 4.0.1 returns 200 for a verifier without a stored challenge; we refuse."""
    env = make_env(policy=Policy(scopes=("read",), require_pkce=False))
    code = get_code(env, code_challenge="<omit>", code_challenge_method="<omit>")
    response = redeem(env, code)
    assert response.status == 400
    assert body(response)["error"] == "invalid_grant"


def test_missing_challenge_method_is_not_stored_as_plain() -> None:
    """Where oauthlib and Authlib default a missing method to plain; we refuse it."""
    result = _begin(code_challenge_method="<omit>")
    assert isinstance(result, Response)
    assert "error=invalid_request" in result.headers["location"]


def test_code_replay_revokes_family_authlib_757() -> None:
    """Authlib cannot revoke on code replay (authlib#757); a valid replay revokes here."""
    env = make_env()
    code = get_code(env)
    first = body(redeem(env, code))
    redeem(env, code)
    assert introspect(env, first["access_token"]) == {"active": False}


def test_code_replay_by_public_attacker_does_not_revoke_fosite_class() -> None:
    """Unlike fosite, a used code replayed without its verifier revokes nothing."""
    env = make_env()
    code = get_code(env, "spa")
    first = body(redeem(env, code, "spa"))
    attacker = redeem(env, code, "spa", code_verifier="A" * 43)
    assert body(attacker)["error"] == "invalid_grant"
    assert refresh(env, first["refresh_token"], "spa").status == 200


def test_refresh_reuse_revokes_family() -> None:
    """Neither Python anchor detects refresh reuse; reuse revokes the family here."""
    env = make_env()
    first = tokens(env)
    second = body(refresh(env, first["refresh_token"]))
    assert refresh(env, first["refresh_token"]).status == 400
    assert introspect(env, second["access_token"]) == {"active": False}


def test_private_key_jwt_alg_confusion_cve_2024_37568_class() -> None:
    """An HS256 assertion keyed with the client's public key is refused (alg allow-list)."""
    env = make_env()
    public_bytes = CLIENT_KEY.public().to_pem()
    try:
        key = JWK.from_secret(public_bytes, alg="HS256")
    except Exception:  # noqa: BLE001 - authcore refuses PEM as an HMAC key: also a pass
        return
    assertion = jwt.encode(
        {"iss": "pkjwt", "sub": "pkjwt", "aud": TOKEN_URL, "exp": 1767225660, "jti": "x"}, key
    )
    request = post(
        TOKEN_URL,
        {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        },
        client=None,
    )
    assert body(env.server.token_endpoint(request))["error"] == "invalid_client"


def test_alg_none_assertion_refused() -> None:
    """An unsigned (alg none) client assertion never authenticates."""
    env = make_env()
    header = "eyJhbGciOiJub25lIn0"  # {"alg":"none"}
    claims = {"iss": "pkjwt", "sub": "pkjwt", "aud": TOKEN_URL, "exp": 1767225660, "jti": "n"}
    encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    request = post(
        TOKEN_URL,
        {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": f"{header}.{encoded}.",
        },
        client=None,
    )
    assert body(env.server.token_endpoint(request))["error"] == "invalid_client"


def test_device_code_single_use_authlib_class() -> None:
    """Authlib's device grant does not consume the code; a second poll fails here."""
    env = make_env()
    started = env.server.device_authorization_endpoint(
        post(ISSUER + "/device_authorization", {"client_id": "spa"}, client=None)
    )
    values = body(started)
    env.server.complete_device_authorization(str(values["user_code"]), subject="a")
    params = {
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        "device_code": str(values["device_code"]),
        "client_id": "spa",
    }
    assert env.server.token_endpoint(post(TOKEN_URL, params, client=None)).status == 200
    env.advance(10)
    second = env.server.token_endpoint(post(TOKEN_URL, params, client=None))
    assert body(second)["error"] == "invalid_grant"
