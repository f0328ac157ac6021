"""Hostile input to every endpoint answers an error response, never an exception."""

from __future__ import annotations

import json
import urllib.parse
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authcore.http import Request, Response
from authcore.oauth import PendingAuthorization

from .helpers import ISSUER, TOKEN_URL, basic, code_params, make_env

if TYPE_CHECKING:
    from collections.abc import Callable

ENV = make_env()
ENDPOINTS: dict[str, Callable[[Request], Response]] = {
    "token": ENV.server.token_endpoint,
    "revoke": ENV.server.revocation_endpoint,
    "introspect": ENV.server.introspection_endpoint,
    "device": ENV.server.device_authorization_endpoint,
    "par": ENV.server.par_endpoint,
}
NAMES = st.sampled_from(
    [
        "grant_type",
        "code",
        "client_id",
        "client_secret",
        "redirect_uri",
        "code_verifier",
        "refresh_token",
        "scope",
        "device_code",
        "token",
        "client_assertion",
        "client_assertion_type",
        "resource",
        "request_uri",
        "response_type",
        "state",
        "code_challenge",
    ]
)
VALUES = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "a.b.c",
            "https://app.example/cb",
            "http://[::1",
            "\u202e\u0000\ud7ff",
        ]
    ),
)


def _assert_error_json(response: Response) -> None:
    assert isinstance(response, Response)
    assert 400 <= response.status < 500 or response.status in {200, 201, 302}
    if response.status >= 400:
        value = json.loads(response.body)
        assert isinstance(value["error"], str)


@settings(max_examples=150)
@given(
    endpoint=st.sampled_from(sorted(ENDPOINTS)),
    params=st.lists(st.tuples(NAMES, VALUES), max_size=8),
    auth=st.sampled_from([None, basic("web", "web-secret"), "Basic x", "Bearer abc", "Basic"]),
    ctype=st.sampled_from(
        ["application/x-www-form-urlencoded", "application/json", "text/plain", ""]
    ),
)
def test_token_side_endpoints_never_raise(
    endpoint: str, params: list[tuple[str, str]], auth: str | None, ctype: str
) -> None:
    """Any mix of repeated, missing and odd parameters gets a JSON error (or a success)."""
    headers = {"Content-Type": ctype} if ctype else {}
    if auth is not None:
        headers["Authorization"] = auth
    request = Request(
        method="POST",
        url=ISSUER + "/" + endpoint,
        headers=headers,
        body=urllib.parse.urlencode(params).encode(),
    )
    _assert_error_json(ENDPOINTS[endpoint](request))


@settings(max_examples=150)
@given(params=st.lists(st.tuples(NAMES, VALUES), max_size=8), base=st.booleans())
def test_authorization_endpoint_never_raises(params: list[tuple[str, str]], base: bool) -> None:
    """The authorization endpoint answers anything with a pending request or a response."""
    pairs = list(code_params().items()) + params if base else params
    url = ISSUER + "/authorize?" + urllib.parse.urlencode(pairs)
    result = ENV.server.begin_authorization(Request(method="GET", url=url))
    if isinstance(result, Response):
        if result.status == 302:
            assert result.headers["location"].startswith("https://app.example/cb?")
        else:
            _assert_error_json(result)
    else:
        assert isinstance(result, PendingAuthorization)


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_oversized_bodies(endpoint: str) -> None:
    """A body over the cap is invalid_request before any other work."""
    request = Request(
        method="POST",
        url=ISSUER + "/" + endpoint,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=b"x=" + b"a" * 20000,
    )
    response = ENDPOINTS[endpoint](request)
    assert response.status == 400
    assert json.loads(response.body)["error"] == "invalid_request"


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_invalid_utf8_and_bad_percent_encoding(endpoint: str) -> None:
    """Undecodable bodies are invalid_request."""
    for raw in (b"grant_type=%ff%fe", b"grant_type=%zz", b"\xff\xfe=1", b"a&b&c"):
        request = Request(
            method="POST",
            url=ISSUER + "/" + endpoint,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            body=raw,
        )
        assert ENDPOINTS[endpoint](request).status == 400


def test_long_parameters_are_refused() -> None:
    """A parameter over 2048 characters is refused (CVE-2022-36087 class: bounded input)."""
    request = Request(
        method="POST",
        url=TOKEN_URL,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=urllib.parse.urlencode({"grant_type": "x" * 3000}).encode(),
    )
    assert json.loads(ENV.server.token_endpoint(request).body)["error"] == "invalid_request"


def test_unicode_redirect_uris_never_redirect() -> None:
    """Unicode look-alikes, IPv6 oddities and userinfo in redirect URIs get a page, not a 302."""
    for uri in (
        "https://app.example/cb\u200b",
        "https://xn--pp-example/cb",
        "https://app\u3002example/cb",
        "http://[::1]:80@evil.example/cb",
        "https://app.example@evil.example/cb",
        "http://[" + "0:" * 2000 + "]/cb",
    ):
        url = ISSUER + "/authorize?" + urllib.parse.urlencode(code_params(redirect_uri=uri))
        result = ENV.server.begin_authorization(Request(method="GET", url=url))
        assert isinstance(result, Response)
        assert "location" not in result.headers
