"""OAUTH.md 3.5: client authentication, one test per rule."""

from __future__ import annotations

import base64
import json
import urllib.parse
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from authcore import _ct
from authcore.errors import ConfigurationError
from authcore.http import Request, Response
from authcore.jose import JWK, jwt
from authcore.mtls import thumbprint
from authcore.oauth import ClientRecord, _clients, generate_client_secret
from tests.mtls._pki import make_self_signed_leaf

from .helpers import (
    CLIENT_KEY,
    HS_SECRET,
    ISSUER,
    TOKEN_URL,
    basic,
    body,
    make_env,
    post,
)

CC = {"grant_type": "client_credentials"}
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _form(params: dict[str, str], headers: dict[str, str] | None = None) -> Request:
    return post(TOKEN_URL, params, client=None, headers=headers)


def _assertion(key: JWK, client_id: str = "pkjwt", **claims: Any) -> str:
    now = int(claims.pop("now", 1767225600))
    values: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_URL,
        "exp": now + 60,
        "iat": now,
        "jti": claims.pop("jti", "jti-1"),
    }
    values.update(claims)
    return jwt.encode({k: v for k, v in values.items() if v is not None}, key)


def _with_assertion(assertion: str, **extra: str) -> Request:
    return _form(
        {**CC, "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion, **extra}
    )


def _status_error(response: Response) -> tuple[int, str]:
    return response.status, str(body(response)["error"])


def test_one_method_per_request() -> None:
    """Basic plus a body secret, or an assertion plus a secret, is invalid_request (3.5.1)."""
    env = make_env()
    both = post(
        TOKEN_URL, {**CC, "client_secret": "web-secret-0123456789abcdefghijklmnop"}, client="web"
    )
    assert _status_error(env.server.token_endpoint(both)) == (400, "invalid_request")
    mixed = _with_assertion(_assertion(CLIENT_KEY), client_secret="x")
    assert _status_error(env.server.token_endpoint(mixed)) == (400, "invalid_request")


def test_failed_basic_is_401_with_challenge() -> None:
    """A failed Authorization-header attempt is 401 + WWW-Authenticate; body secrets 400 (3.5.2)."""
    env = make_env()
    wrong = _form(CC, headers={"Authorization": basic("web", "nope")})
    response = env.server.token_endpoint(wrong)
    assert _status_error(response) == (401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic")
    unknown = _form(CC, headers={"Authorization": basic("ghost", "nope")})
    assert env.server.token_endpoint(unknown).status == 401
    malformed = _form(CC, headers={"Authorization": "Basic !!!"})
    assert env.server.token_endpoint(malformed).status == 401
    body_secret = _form({**CC, "client_id": "post", "client_secret": "nope"})
    assert _status_error(env.server.token_endpoint(body_secret)) == (400, "invalid_client")


def test_basic_credentials_are_url_decoded() -> None:
    """Basic credentials are form-urlencoded before base64 (RFC 6749 2.3.1) (3.5.3)."""
    odd = "s3cret: with spaces+plus/slash%-0123456789"
    env = make_env(
        extra={
            "odd id": {
                "client_id": "odd id",
                "client_secret": odd,
                "grant_types": ["client_credentials"],
                "scope": "read",
            }
        }
    )
    ok = _form(CC, headers={"Authorization": basic("odd id", odd)})
    assert env.server.token_endpoint(ok).status == 200
    raw = "Basic " + base64.b64encode(f"odd id:{odd}".encode()).decode()
    assert env.server.token_endpoint(_form(CC, headers={"Authorization": raw})).status == 401


def test_no_client_secret_in_query() -> None:
    """Credentials in the query string are refused (3.5.4)."""
    env = make_env()
    request = Request(
        method="POST",
        url=TOKEN_URL + "?client_secret=post+secret",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=urllib.parse.urlencode({**CC, "client_id": "post"}).encode(),
    )
    assert _status_error(env.server.token_endpoint(request)) == (400, "invalid_request")


def test_registered_method_only() -> None:
    """A client may use only its registered method; a confidential client cannot use none."""
    env = make_env()
    assert _status_error(env.server.token_endpoint(_form({**CC, "client_id": "web"})))[1] == (
        "invalid_client"
    )
    post_as_basic = _form(
        CC, headers={"Authorization": basic("post", "post secret/with+odd:chars-0123456789")}
    )
    assert env.server.token_endpoint(post_as_basic).status == 401
    as_post = _form(
        {**CC, "client_id": "post", "client_secret": "post secret/with+odd:chars-0123456789"}
    )
    assert env.server.token_endpoint(as_post).status == 200


def test_secrets_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Secret digests are compared through authcore._ct.bytes_eq (3.5.6)."""
    calls: list[int] = []
    real = _ct.bytes_eq

    def spy(a: bytes, b: bytes) -> bool:
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(_clients, "bytes_eq", spy)
    env = make_env()
    env.server.token_endpoint(post(TOKEN_URL, CC))
    assert calls


def test_private_key_jwt() -> None:
    """A valid private_key_jwt assertion authenticates; replaying its jti fails (3.5.7)."""
    env = make_env()
    assertion = _assertion(CLIENT_KEY)
    assert env.server.token_endpoint(_with_assertion(assertion)).status == 200
    assert _status_error(env.server.token_endpoint(_with_assertion(assertion))) == (
        400,
        "invalid_client",
    )


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "other"},
        {"sub": "other"},
        {"aud": "https://elsewhere.example/token"},
        {"exp": None},
        {"exp": 1767225600 - 1},
        {"exp": 1767225600 + 3601},
        {"jti": None},
    ],
    ids=["iss", "sub", "aud", "no-exp", "expired", "too-long", "no-jti"],
)
def test_private_key_jwt_claim_checks(claims: dict[str, Any]) -> None:
    """Claims: iss = sub = client_id, aud, exp present, future and near, jti required (3.5.7)."""
    env = make_env()
    response = env.server.token_endpoint(_with_assertion(_assertion(CLIENT_KEY, **claims)))
    assert _status_error(response)[1] == "invalid_client"


def test_assertion_algorithm_allow_list() -> None:
    """HMAC cannot authenticate a private_key_jwt client, nor another key (3.5.7)."""
    env = make_env()
    hs = JWK.from_secret(HS_SECRET.encode(), alg="HS256")
    response = env.server.token_endpoint(_with_assertion(_assertion(hs)))
    assert _status_error(response)[1] == "invalid_client"
    other = JWK.generate("ES256", kid="client-key")
    response = env.server.token_endpoint(_with_assertion(_assertion(other)))
    assert _status_error(response)[1] == "invalid_client"
    assert (
        "client_secret_jwt" in body(env.server.metadata())["token_endpoint_auth_methods_supported"]
    )


def test_client_secret_jwt() -> None:
    """client_secret_jwt verifies with the client's HMAC key and rejects other keys."""
    env = make_env()
    hs = JWK.from_secret(HS_SECRET.encode(), alg="HS256")
    assert env.server.token_endpoint(_with_assertion(_assertion(hs, "hsjwt"))).status == 200
    wrong = JWK.from_secret(b"w" * 32, alg="HS256")
    response = env.server.token_endpoint(_with_assertion(_assertion(wrong, "hsjwt", jti="2")))
    assert _status_error(response)[1] == "invalid_client"


def test_assertion_audience_may_be_the_issuer() -> None:
    """The issuer identifier is an accepted audience too."""
    env = make_env()
    assertion = _assertion(CLIENT_KEY, aud=ISSUER, jti="aud-issuer")
    assert env.server.token_endpoint(_with_assertion(assertion)).status == 200


def _mtls_env() -> tuple[Any, Any, Any]:
    leaf = make_self_signed_leaf("device", dns=["client.example"])
    pinned = make_self_signed_leaf("pinned")
    pinned_key = JWK.from_pem(
        pinned.cert.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    env = make_env(
        extra={
            "mtls": {
                "client_id": "mtls",
                "token_endpoint_auth_method": "tls_client_auth",
                "tls_client_auth_san_dns": "client.example",
                "grant_types": ["client_credentials"],
                "scope": "read",
            },
            "self": {
                "client_id": "self",
                "token_endpoint_auth_method": "self_signed_tls_client_auth",
                "jwks": {"keys": [pinned_key.to_dict()]},
                "grant_types": ["client_credentials"],
                "scope": "read",
            },
        }
    )
    return env, leaf, pinned


def test_tls_client_auth_and_certificate_bound_tokens() -> None:
    """tls_client_auth matches the SAN; tokens carry cnf.x5t#S256 of the certificate (3.5.8)."""
    env, leaf, pinned = _mtls_env()
    request = _form({**CC, "client_id": "mtls"})
    assert env.server.token_endpoint(request).status == 400
    response = env.server.token_endpoint(request, client_certificate=leaf.cert)
    assert response.status == 200
    claims = jwt.decode_unverified(body(response)["access_token"]).claims
    assert claims["cnf"] == {"x5t#S256": thumbprint(leaf.cert)}
    wrong = env.server.token_endpoint(request, client_certificate=pinned.cert)
    assert _status_error(wrong)[1] == "invalid_client"


def test_self_signed_tls_client_auth() -> None:
    """self_signed_tls_client_auth matches the certificate's key against the JWKS (3.5.8)."""
    env, leaf, pinned = _mtls_env()
    request = _form({**CC, "client_id": "self"})
    assert env.server.token_endpoint(request, client_certificate=pinned.cert).status == 200
    wrong = env.server.token_endpoint(request, client_certificate=leaf.cert)
    assert _status_error(wrong)[1] == "invalid_client"


def test_client_records_from_metadata() -> None:
    """RFC 7591 names build a record; the secret is stored as a digest only."""
    record = ClientRecord.from_metadata(
        {
            "client_id": "c",
            "client_secret": "top-secret-0123456789abcdefghijklmnop",
            "redirect_uris": ["https://c/cb"],
        }
    )
    assert record.client_secret_digest is not None
    assert "top-secret-0123456789abcdefghijklmnop" not in repr(record)
    assert "top-secret-0123456789abcdefghijklmnop" not in record.client_secret_digest
    with pytest.raises(ConfigurationError):
        ClientRecord.from_metadata({"client_id": "c", "unknown_field": 1})
    with pytest.raises(ConfigurationError):
        ClientRecord.from_metadata(
            {"client_id": "c", "token_endpoint_auth_method": "private_key_jwt"}
        )
    with pytest.raises(ConfigurationError):
        ClientRecord.from_metadata({"client_id": "c", "grant_types": ["password"]})


def test_short_client_secrets_are_refused() -> None:
    """Secrets are stored as SHA-256 digests, so low-entropy ones are refused at setup."""
    with pytest.raises(ConfigurationError):
        ClientRecord.from_metadata({"client_id": "c", "client_secret": "hunter2"})
    secret = generate_client_secret()
    assert len(secret) == 43
    record = ClientRecord.from_metadata({"client_id": "c", "client_secret": secret})
    assert record.client_secret_digest is not None


def test_assertion_audience_is_not_taken_from_the_request_url() -> None:
    """An assertion made for another server is refused even if the Host header names it."""
    env = make_env()
    elsewhere = "https://other-as.example/token"
    request = _with_assertion(_assertion(CLIENT_KEY, aud=elsewhere, jti="host-header"))
    spoofed = Request(method="POST", url=elsewhere, headers=request.headers, body=request.body)
    assert _status_error(env.server.token_endpoint(spoofed))[1] == "invalid_client"


def test_invalid_client_answers_say_nothing_about_the_cause() -> None:
    """Unknown client, wrong secret, wrong method: one error_description for all (no oracle)."""
    env = make_env()
    answers = [
        env.server.token_endpoint(
            Request(
                method="POST",
                url=TOKEN_URL,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Authorization": basic(client_id, secret),
                },
                body=urllib.parse.urlencode(CC).encode(),
            )
        )
        for client_id, secret in (
            ("nobody", "x" * 40),
            ("web", "wrong-secret-0123456789abcdefghijklmnop"),
            ("post", "post secret/with+odd:chars-0123456789"),  # registered for post
        )
    ]
    assert [a.status for a in answers] == [401, 401, 401]
    assert {body(a)["error_description"] for a in answers} == {"client authentication failed"}


@pytest.mark.parametrize("alg", [[], {}, ["HS256"], None, 1])
def test_assertion_with_a_non_string_alg_is_invalid_client(alg: object) -> None:
    """The assertion's header is the peer's JSON: ``alg: []`` is invalid_client, not a crash.

    ``alg in {...}`` on a list raised a bare TypeError (found by fuzzing the JWKS and
    header paths, fixed with one membership helper for peer and caller values alike).
    """
    env = make_env()
    good = _assertion(CLIENT_KEY).split(".")
    header = json.dumps({"alg": alg, "typ": "JWT"}).encode()
    head = base64.urlsafe_b64encode(header).rstrip(b"=").decode()
    response = env.server.token_endpoint(_with_assertion(".".join([head, *good[1:]])))
    assert _status_error(response) == (400, "invalid_client")  # no Authorization header: 400
