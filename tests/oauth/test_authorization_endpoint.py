"""OAUTH.md 3.1 and 3.3 (authorization side): one test per rule."""

from __future__ import annotations

import urllib.parse

import pytest

from authcore.errors import ConfigurationError
from authcore.http import Request, Response
from authcore.oauth import ClientRecord, PendingAuthorization, Policy

from .helpers import (
    ISSUER,
    authorize_request,
    body,
    code_params,
    get_code,
    location_params,
    make_env,
)


def _begin(**overrides: str) -> PendingAuthorization | Response:
    return make_env().server.begin_authorization(authorize_request(**code_params(**overrides)))


def _not_redirected(result: PendingAuthorization | Response) -> dict[str, object]:
    assert isinstance(result, Response)
    assert result.status == 400
    assert "location" not in result.headers
    return body(result)


def _redirected_error(result: PendingAuthorization | Response) -> dict[str, str]:
    assert isinstance(result, Response)
    params = location_params(result)
    assert result.headers["location"].startswith("https://app.example/cb?")
    return params


def test_redirect_uri_exact_match() -> None:
    """Only the registered string matches: trailing slash, case, query all differ (3.1.1)."""
    for uri in (
        "https://app.example/cb/",
        "https://APP.example/cb",
        "https://app.example/cb?x=1",
        "https://app.example/CB",
        "https://app.example:443/cb",
    ):
        assert _not_redirected(_begin(redirect_uri=uri))["error"] == "invalid_request"
    assert isinstance(_begin(), PendingAuthorization)


def test_loopback_port_exception_for_native_clients() -> None:
    """Native clients may use any port on 127.0.0.1 and [::1]; path and query still match."""
    env = make_env()
    for uri in ("http://127.0.0.1:51234/cb", "http://127.0.0.1/cb", "http://[::1]:9/cb"):
        pending = env.server.begin_authorization(
            authorize_request(**code_params("native", redirect_uri=uri))
        )
        assert isinstance(pending, PendingAuthorization), uri
        assert pending.redirect_uri == uri
    for uri in (
        "http://127.0.0.1:51234/other",
        "http://127.0.0.1:51234/cb?x=1",
        "http://localhost:8000/cb",
        "http://127.0.0.2:8000/cb",
        "https://127.0.0.1:8000/cb",
        # Only the port may vary (RFC 9700 section 4.1.3): the scheme is compared exactly.
        "HTTP://127.0.0.1:8000/cb",
        "hTtp://127.0.0.1:8000/cb",
    ):
        result = env.server.begin_authorization(
            authorize_request(**code_params("native", redirect_uri=uri))
        )
        _not_redirected(result)


def test_loopback_exception_is_for_native_clients_only() -> None:
    """A web client registered with a loopback URI gets no port exception."""
    env = make_env(
        extra={
            "loop": {
                "client_id": "loop",
                "client_secret": "s" * 32,
                "redirect_uris": ["http://127.0.0.1:8000/cb"],
                "scope": "read",
            }
        }
    )
    params = code_params(client_id="loop", redirect_uri="http://127.0.0.1:9000/cb")
    _not_redirected(env.server.begin_authorization(authorize_request(**params)))


def test_redirect_uri_scheme_and_fragment_rules() -> None:
    """Registration refuses fragments, userinfo and http to non-loopback hosts (3.1.3)."""
    for uri in (
        "https://app.example/cb#frag",
        "http://app.example/cb",
        "https://user@app.example/cb",
        "relative/cb",
        "com.example.app:/cb",  # custom schemes only for native clients
    ):
        with pytest.raises(ConfigurationError):
            ClientRecord.from_metadata(
                {"client_id": "c", "client_secret": "s" * 32, "redirect_uris": [uri]}
            )
    assert _not_redirected(_begin(redirect_uri="https://app.example/cb#x"))


def test_omitted_redirect_uri() -> None:
    """One registered URI is used when omitted; with several, omission is a non-redirect error."""
    pending = _begin(redirect_uri="<omit>")
    assert isinstance(pending, PendingAuthorization)
    assert pending.redirect_uri == "https://app.example/cb"
    assert pending.redirect_uri_sent is False
    env = make_env()
    result = env.server.begin_authorization(
        authorize_request(**code_params(client_id="web2", redirect_uri="<omit>"))
    )
    _not_redirected(result)


def test_no_redirect_on_bad_client_or_redirect_uri() -> None:
    """Missing/unknown client_id or bad redirect_uri never redirect (RFC 6749 4.1.2.1)."""
    for overrides in (
        {"client_id": "<omit>"},
        {"client_id": "nobody"},
        {"redirect_uri": "https://evil.example/cb"},
        {"redirect_uri": "not a uri"},
        {"client_id": "nobody", "response_type": "token", "scope": "bad scope!"},
    ):
        result = _begin(**overrides)
        assert _not_redirected(result)["error"] == "invalid_request"


def test_other_errors_redirect_with_state_and_iss() -> None:
    """After client and redirect URI validate, errors go to the redirect URI (3.1.6)."""
    cases = {
        "unsupported_response_type": {"response_type": "token"},
        "invalid_scope": {"scope": "admin"},
        "invalid_request": {"code_challenge": "<omit>"},
        "invalid_target": {"resource": "https://other.example/"},
    }
    for error, overrides in cases.items():
        params = _redirected_error(_begin(**overrides))
        assert params == {
            "error": error,
            "error_description": params.get("error_description", ""),
            "state": "xyz",
            "iss": ISSUER,
        }


def test_unauthorized_client_redirects() -> None:
    """A client without the code grant gets unauthorized_client at its redirect URI."""
    env = make_env(
        extra={
            "cc": {
                "client_id": "cc",
                "client_secret": "s" * 32,
                "redirect_uris": ["https://app.example/cb"],
                "grant_types": ["client_credentials"],
                "scope": "read",
            }
        }
    )
    result = env.server.begin_authorization(authorize_request(**code_params(client_id="cc")))
    assert _redirected_error(result)["error"] == "unauthorized_client"


@pytest.mark.parametrize(
    "name",
    [
        "client_id",
        "response_type",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
    ],
)
def test_duplicate_parameters_are_invalid_request(name: str) -> None:
    """A repeated parameter is invalid_request, answered without a redirect (3.1.7)."""
    query = urllib.parse.urlencode(code_params()) + "&" + urllib.parse.urlencode({name: "again"})
    result = make_env().server.begin_authorization(
        Request(method="GET", url=ISSUER + "/authorize?" + query)
    )
    assert _not_redirected(result)["error"] == "invalid_request"


def test_state_echoed_byte_for_byte() -> None:
    """State "0", unicode and reserved characters come back unchanged, on success and error."""
    for state in ("0", "a b&c=d", "\u00e9t\u00e9\U0001f600", "+/="):
        env = make_env()
        pending = env.server.begin_authorization(authorize_request(**code_params(state=state)))
        assert isinstance(pending, PendingAuthorization)
        assert (
            location_params(env.server.complete_authorization(pending, subject="a"))["state"]
            == state
        )
        error = env.server.begin_authorization(
            authorize_request(**code_params(state=state, scope="admin"))
        )
        assert _redirected_error(error)["state"] == state
    pending = _begin(state="<omit>")
    assert isinstance(pending, PendingAuthorization)
    assert "state" not in location_params(
        make_env().server.complete_authorization(pending, subject="a")
    )


def test_iss_on_every_authorization_response() -> None:
    """Success, errors and denials all carry iss (RFC 9207); metadata says so."""
    env = make_env()
    pending = env.server.begin_authorization(authorize_request(**code_params()))
    assert isinstance(pending, PendingAuthorization)
    assert location_params(env.server.complete_authorization(pending, subject="a"))["iss"] == ISSUER
    denied = location_params(
        env.server.complete_authorization(pending, subject="a", approved=False)
    )
    assert denied["error"] == "access_denied"
    assert denied["iss"] == ISSUER
    assert _redirected_error(_begin(scope="admin"))["iss"] == ISSUER
    assert body(env.server.metadata())["authorization_response_iss_parameter_supported"] is True


def test_redirect_status_is_302() -> None:
    """Authorization responses are 302, never 307 (RFC 9700 4.12)."""
    env = make_env()
    pending = env.server.begin_authorization(authorize_request(**code_params()))
    assert isinstance(pending, PendingAuthorization)
    assert env.server.complete_authorization(pending, subject="a").status == 302
    error = _begin(scope="admin")
    assert isinstance(error, Response)
    assert error.status == 302


def test_pkce_required_by_default() -> None:
    """No code_challenge is invalid_request, redirected (3.3.4)."""
    assert _redirected_error(_begin(code_challenge="<omit>"))["error"] == "invalid_request"


def test_plain_refused_by_default() -> None:
    """A missing method (plain) or plain is invalid_request (3.3.3)."""
    for method in ("<omit>", "plain"):
        params = _redirected_error(_begin(code_challenge_method=method))
        assert params["error"] == "invalid_request"


def test_challenge_grammar_and_unknown_method() -> None:
    """A malformed challenge or unknown method is invalid_request (3.3.2)."""
    for overrides in ({"code_challenge": "short"}, {"code_challenge_method": "S512"}):
        assert _redirected_error(_begin(**overrides))["error"] == "invalid_request"


def test_post_authorization_request() -> None:
    """The endpoint also accepts a form POST."""
    env = make_env()
    request = Request(
        method="POST",
        url=ISSUER + "/authorize",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=urllib.parse.urlencode(code_params()).encode(),
    )
    assert isinstance(env.server.begin_authorization(request), PendingAuthorization)


def test_complete_authorization_scopes_must_narrow() -> None:
    """The host may grant a subset of the requested scopes, never more."""
    env = make_env()
    pending = env.server.begin_authorization(authorize_request(**code_params(scope="read write")))
    assert isinstance(pending, PendingAuthorization)
    with pytest.raises(ConfigurationError):
        env.server.complete_authorization(pending, subject="a", scopes=("admin",))
    assert env.server.complete_authorization(pending, subject="a", scopes=("read",)).status == 302


def test_code_has_256_bits() -> None:
    """A code is 43 base64url characters: 256 random bits (3.2.1 asks at least 128)."""
    code = get_code(make_env())
    assert len(code) == 43


@pytest.mark.parametrize("lifetime", [601, 0, -5, "60", None, 1.5, True])
def test_policy_refuses_a_bad_code_lifetime(lifetime: object) -> None:
    """A code lifetime must be whole seconds, 1 to 10 minutes (RFC 6749 4.1.2).

    A string or None used to escape as a bare TypeError from the comparison, and 1.5 or
    True were accepted.
    """
    with pytest.raises(ConfigurationError, match="code_lifetime must be an int from 1 to 600"):
        Policy(code_lifetime=lifetime)  # type: ignore[arg-type]
    assert Policy(code_lifetime=600).code_lifetime == 600


def test_public_clients_need_pkce_even_when_policy_allows_without() -> None:
    """With require_pkce off, confidential clients may skip PKCE; public clients never."""
    env = make_env(policy=Policy(scopes=("read", "write"), require_pkce=False))
    spa = env.server.begin_authorization(
        authorize_request(
            **code_params("spa", code_challenge="<omit>", code_challenge_method="<omit>")
        )
    )
    assert isinstance(spa, Response)
    assert location_params(spa)["error"] == "invalid_request"
    web = env.server.begin_authorization(
        authorize_request(**code_params(code_challenge="<omit>", code_challenge_method="<omit>"))
    )
    assert isinstance(web, PendingAuthorization)


def test_policy_reports_every_problem() -> None:
    """Policy refuses bad values at setup and lists them all."""
    with pytest.raises(ConfigurationError) as caught:
        Policy(
            access_token_lifetime=0,
            refresh_idle_lifetime=-1,
            scopes=["read"],  # type: ignore[arg-type]
            access_token_format="jwt",  # type: ignore[arg-type]
        )
    assert len(caught.value.errors) == 4
