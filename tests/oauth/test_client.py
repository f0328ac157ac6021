"""The sans-IO client role: authentication values, metadata, callbacks, response parsers."""

from __future__ import annotations

import base64
import datetime as dt
import json
import urllib.parse
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authcore.clock import FixedClock
from authcore.errors import (
    AccessDenied,
    ConfigurationError,
    DecodeError,
    DeviceCodeExpired,
    FetchError,
    InvalidClaim,
    InvalidGrant,
    InvalidIssuer,
    InvalidScope,
    MalformedError,
    MalformedRequest,
    OAuthError,
    OAuthServerError,
    SlowDown,
    TemporarilyUnavailable,
    VerificationError,
)
from authcore.http import Request, Response, parse_basic
from authcore.jose import JWK, jwt
from authcore.oauth import pkce
from authcore.oauth.client import (
    ASSERTION_TYPE,
    DEFAULT_INTERVAL,
    AuthorizationCodeFlow,
    ClientSecretBasic,
    ClientSecretJwt,
    ClientSecretPost,
    DeviceAuthorization,
    NoneAuth,
    OAuthClient,
    PrivateKeyJwt,
    ServerMetadata,
    TlsClientAuth,
    TokenSet,
    device_polling,
    oauth_error,
    parse_device_authorization_response,
    parse_introspection_response,
    parse_revocation_response,
    parse_token_response,
)

ISSUER = "https://as.example"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
DOCUMENT: dict[str, object] = {
    "issuer": ISSUER,
    "authorization_endpoint": ISSUER + "/authorize",
    "token_endpoint": ISSUER + "/token",
    "pushed_authorization_request_endpoint": ISSUER + "/par",
    "revocation_endpoint": ISSUER + "/revoke",
    "introspection_endpoint": ISSUER + "/introspect",
    "device_authorization_endpoint": ISSUER + "/device_authorization",
    "jwks_uri": ISSUER + "/jwks",
    "authorization_response_iss_parameter_supported": True,
    "code_challenge_methods_supported": ["S256"],
    "dpop_signing_alg_values_supported": ["ES256", "EdDSA"],
}


def _metadata(**changes: object) -> ServerMetadata:
    document = {**DOCUMENT, **changes}
    return ServerMetadata.parse(
        json.dumps({k: v for k, v in document.items() if v is not None}), issuer=ISSUER
    )


def _client(auth: Any = None, **changes: object) -> OAuthClient:
    return OAuthClient(
        metadata=_metadata(**changes), client_id="web", auth=auth or ClientSecretBasic(secret="s")
    )


def _flow(**changes: object) -> AuthorizationCodeFlow:
    return _client(**changes).start(redirect_uri="https://app.example/cb", scope=["read"])


def _json(status: int, value: object, *, ctype: str = "application/json") -> Response:
    return Response(status=status, headers={"Content-Type": ctype}, body=json.dumps(value).encode())


def _callback(flow: AuthorizationCodeFlow, **params: str) -> str:
    base = {"code": "the-code", "state": flow.state, "iss": ISSUER}
    base.update(params)
    query = urllib.parse.urlencode({k: v for k, v in base.items() if v != "<omit>"})
    return "https://app.example/cb?" + query


# ----------------------------------------------------------------------------- metadata


def test_metadata_parses_endpoints_and_flags() -> None:
    """RFC 8414 metadata gives the endpoints, the RFC 9207 flag and the method sets."""
    metadata = _metadata()
    assert metadata.token_endpoint == ISSUER + "/token"
    assert metadata.authorization_response_iss_parameter_supported is True
    assert metadata.code_challenge_methods_supported == frozenset({"S256"})
    assert metadata.dpop_signing_alg_values_supported == frozenset({"ES256", "EdDSA"})
    assert metadata.document["issuer"] == ISSUER


@pytest.mark.parametrize("issuer", [ISSUER + "/", "https://AS.example", "https://as.example:443"])
def test_metadata_issuer_must_match_exactly(issuer: str) -> None:
    """The issuer in the document equals the expected one character for character."""
    with pytest.raises(FetchError, match="issuer"):
        ServerMetadata.parse(json.dumps({**DOCUMENT, "issuer": issuer}), issuer=ISSUER)


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("token_endpoint", "http://as.example/token"),
        ("token_endpoint", 7),
        ("authorization_endpoint", "https://user:pw@as.example/a"),
        ("authorization_response_iss_parameter_supported", "true"),
        ("code_challenge_methods_supported", "S256"),
        ("dpop_signing_alg_values_supported", [1]),
    ],
)
def test_metadata_refuses_malformed_members(member: str, value: object) -> None:
    """A non-https endpoint or a member of the wrong type refuses the document."""
    with pytest.raises(FetchError):
        ServerMetadata.parse(json.dumps({**DOCUMENT, member: value}), issuer=ISSUER)


def test_metadata_refuses_bad_documents() -> None:
    """Non-JSON, oversized, duplicate-member and non-200 documents are refused."""
    with pytest.raises(FetchError):
        ServerMetadata.parse(b"not json", issuer=ISSUER)
    with pytest.raises(FetchError, match="larger"):
        ServerMetadata.parse(b" " * (300 * 1024), issuer=ISSUER)
    with pytest.raises(FetchError):
        ServerMetadata.parse(b'{"issuer": "a", "issuer": "b"}', issuer=ISSUER)
    with pytest.raises(FetchError, match="HTTP 404"):
        ServerMetadata.parse(Response(status=404), issuer=ISSUER)


def test_metadata_request_is_the_rfc8414_well_known_url() -> None:
    """The metadata GET goes to /.well-known/oauth-authorization-server{path}."""
    request = ServerMetadata.request("https://as.example/tenant")
    assert request.method == "GET"
    assert request.url == "https://as.example/.well-known/oauth-authorization-server/tenant"


def test_metadata_built_directly() -> None:
    """A server without RFC 8414 metadata is described directly; the issuer is required."""
    metadata = ServerMetadata(issuer=ISSUER, token_endpoint=ISSUER + "/token")
    client = OAuthClient(metadata=metadata, client_id="c", auth=NoneAuth())
    assert client.client_credentials_request().url == ISSUER + "/token"
    with pytest.raises(ConfigurationError):
        ServerMetadata(issuer="")


def test_missing_endpoint_is_a_configuration_error() -> None:
    """Asking for an endpoint the server did not publish is the caller's mistake."""
    client = _client(revocation_endpoint=None)
    with pytest.raises(ConfigurationError, match="revocation_endpoint"):
        client.revocation_request("t")


# ----------------------------------------------------------------------------- client auth


def test_client_secret_basic_form_encodes_before_base64() -> None:
    """RFC 6749 2.3.1: id and secret are form-urlencoded, then base64 (server decodes it)."""
    client = OAuthClient(
        metadata=_metadata(), client_id="a b:c", auth=ClientSecretBasic(secret="p+w/%:d é")
    )
    request = client.client_credentials_request(now=T0)
    value = request.headers["authorization"]
    raw = base64.b64decode(value.removeprefix("Basic ")).decode()
    assert raw == "a+b%3Ac:p%2Bw%2F%25%3Ad+%C3%A9"
    authorization = request.authorization()
    assert authorization is not None
    credentials = parse_basic(authorization.credentials, form_urlencoded=True)
    assert (credentials.username, credentials.password) == ("a b:c", "p+w/%:d é")
    assert "client_id" not in request.form()


def test_client_secret_post_puts_credentials_in_the_body() -> None:
    """client_secret_post sends client_id and client_secret in the form, no header."""
    request = _client(ClientSecretPost(secret="s3")).client_credentials_request(now=T0)
    assert "authorization" not in request.headers
    assert request.form()["client_secret"] == "s3"
    assert request.form()["client_id"] == "web"


@pytest.mark.parametrize("auth", [NoneAuth(), TlsClientAuth(), TlsClientAuth(self_signed=True)])
def test_public_and_tls_auth_send_only_client_id(auth: NoneAuth | TlsClientAuth) -> None:
    """Methods none and tls_client_auth put client_id in the body and nothing secret anywhere."""
    request = _client(auth).client_credentials_request(now=T0)
    form = request.form()
    assert form["client_id"] == "web"
    assert not {"client_secret", "client_assertion"} & set(form)
    assert "authorization" not in request.headers


def test_private_key_jwt_assertion_claims() -> None:
    """RFC 7523: iss = sub = client_id, aud = issuer by default, exp = iat + 60, fresh jti."""
    key = JWK.generate("ES256", kid="k1")
    client = _client(PrivateKeyJwt(key=key))
    forms = [client.client_credentials_request(now=T0).form() for _ in range(2)]
    assert forms[0]["client_assertion_type"] == ASSERTION_TYPE
    claims = [
        jwt.decode(
            f["client_assertion"], [key.public()], algorithms=["ES256"], audience=ISSUER, now=T0
        )
        for f in forms
    ]
    assert claims[0]["iss"] == claims[0]["sub"] == "web"
    assert claims[0]["exp"] == claims[0]["iat"] + 60 == int(T0.timestamp()) + 60
    assert claims[0]["jti"] != claims[1]["jti"]
    header = json.loads(base64.urlsafe_b64decode(forms[0]["client_assertion"].split(".")[0] + "=="))
    assert header["kid"] == "k1"
    assert header["alg"] == "ES256"


def test_assertion_audience_can_be_the_endpoint() -> None:
    """audience="endpoint" names the URL the request goes to."""
    secret = "x" * 32
    client = _client(ClientSecretJwt(secret=secret, audience="endpoint"))
    form = client.revocation_request("t", now=T0).form()
    key = JWK.from_secret(secret.encode(), alg="HS256")
    claims = jwt.decode(
        form["client_assertion"], [key], algorithms=["HS256"], audience=ISSUER + "/revoke", now=T0
    )
    assert claims["aud"] == ISSUER + "/revoke"


def test_client_auth_configuration_is_checked() -> None:
    """Weak HMAC secrets, public or symmetric keys and empty secrets are refused at setup."""
    with pytest.raises(ConfigurationError):
        ClientSecretJwt(secret="short")
    with pytest.raises(ConfigurationError):
        ClientSecretJwt(secret="x" * 64, alg="RS256")
    with pytest.raises(ConfigurationError):
        PrivateKeyJwt(key=JWK.generate("ES256").public())
    with pytest.raises(ConfigurationError):
        PrivateKeyJwt(key=JWK.from_secret(b"x" * 32, alg="HS256"))
    with pytest.raises(ConfigurationError):
        ClientSecretBasic(secret="")
    with pytest.raises(ConfigurationError):
        _client(auth="secret")


def test_secrets_never_in_repr() -> None:
    """The repr of auth values, token sets and flows never shows secrets or tokens."""
    flow = _flow()
    tokens = TokenSet(access_token="AT-secret", token_type="Bearer", refresh_token="RT-secret")
    shown = repr((ClientSecretBasic(secret="S-secret"), tokens, flow))
    for secret in ("S-secret", "AT-secret", "RT-secret", flow.state, flow.pkce.verifier):
        assert secret not in shown


# ----------------------------------------------------------------------------- authorization URL


def test_authorization_url_has_state_pkce_resource_and_dpop_jkt() -> None:
    """The URL carries response_type=code, a fresh state, S256 challenge, resource, dpop_jkt."""
    client = _client()
    flow = client.start(
        redirect_uri="https://app.example/cb",
        scope=["read", "write"],
        resource=["https://api.example/"],
        dpop_jkt="0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
        extra={"prompt": "consent"},
    )
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(flow.authorization_url()).query))
    assert query["response_type"] == "code"
    assert query["state"] == flow.state
    assert query["code_challenge"] == pkce.s256_challenge(flow.pkce.verifier)
    assert query["code_challenge_method"] == "S256"
    assert query["scope"] == "read write"
    assert query["resource"] == "https://api.example/"
    assert query["dpop_jkt"] == "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
    assert query["prompt"] == "consent"
    assert client.start(redirect_uri="https://app.example/cb").state != flow.state


def test_flow_configuration_is_checked() -> None:
    """Reserved extras, a server without S256 and a string scope are refused."""
    with pytest.raises(ConfigurationError, match="state"):
        _client().start(redirect_uri="https://app.example/cb", extra={"state": "x"})
    with pytest.raises(ConfigurationError, match="S256"):
        _flow(code_challenge_methods_supported=["plain"])
    with pytest.raises(ConfigurationError, match="scope"):
        _client().start(redirect_uri="https://app.example/cb", scope="read")
    with pytest.raises(ConfigurationError):
        _client().start(redirect_uri="")


def test_par_response_gives_a_request_uri_url() -> None:
    """A 201 PAR response becomes the authorization URL with client_id and request_uri."""
    flow = _flow()
    request = flow.par_request(now=T0)
    assert request.url == ISSUER + "/par"
    assert request.form()["code_challenge"] == flow.pkce.challenge
    url = flow.authorization_url_from_par(
        _json(201, {"request_uri": "urn:ietf:params:oauth:request_uri:abc", "expires_in": 60})
    )
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert query == {"client_id": "web", "request_uri": "urn:ietf:params:oauth:request_uri:abc"}
    with pytest.raises(MalformedError):
        flow.authorization_url_from_par(_json(201, {"request_uri": "urn:x"}))
    with pytest.raises(InvalidScope):
        flow.authorization_url_from_par(_json(400, {"error": "invalid_scope"}))


# ----------------------------------------------------------------------------- callback checks


def test_callback_returns_the_code() -> None:
    """A callback with the right state and iss gives the code (URL, Request or mapping)."""
    flow = _flow()
    url = _callback(flow)
    assert flow.validate_callback(url) == "the-code"
    assert flow.validate_callback(Request(method="GET", url=url)) == "the-code"
    assert flow.validate_callback({"code": "c", "state": flow.state, "iss": ISSUER}) == "c"


def test_callback_state_zero_survives() -> None:
    """A state of "0" is a valid state (oauthlib 3.3.0 regression)."""
    flow = AuthorizationCodeFlow(client=_client(), redirect_uri="https://app.example/cb", state="0")
    assert flow.validate_callback(_callback(flow)) == "the-code"


@pytest.mark.parametrize("state", ["<omit>", "", "wrong", "WRONG-PREFIX"])
def test_callback_wrong_state_is_refused(state: str) -> None:
    """A missing, empty or different state is refused (CSRF defence)."""
    flow = _flow()
    with pytest.raises(InvalidClaim) as info:
        flow.validate_callback(_callback(flow, state=state))
    assert info.value.claim == "state"


def test_callback_state_is_byte_exact() -> None:
    """A state differing only in case or by a trailing character is refused."""
    flow = _flow()
    for state in (flow.state.swapcase(), flow.state + " ", flow.state[:-1]):
        with pytest.raises(InvalidClaim):
            flow.validate_callback(_callback(flow, state=state))


def test_callback_missing_iss_refused_when_advertised() -> None:
    """RFC 9207: the server advertises iss, so a callback without it is refused."""
    flow = _flow()
    with pytest.raises(InvalidIssuer) as info:
        flow.validate_callback(_callback(flow, iss="<omit>"))
    assert info.value.claim == "iss"


def test_callback_missing_iss_allowed_when_not_advertised() -> None:
    """Without RFC 9207 support in the metadata, iss may be absent."""
    flow = _flow(authorization_response_iss_parameter_supported=False)
    assert flow.validate_callback(_callback(flow, iss="<omit>")) == "the-code"


@pytest.mark.parametrize("advertised", [True, False])
@pytest.mark.parametrize("iss", ["https://evil.example", ISSUER + "/", "https://AS.example", ""])
def test_callback_wrong_iss_is_refused(iss: str, advertised: bool) -> None:
    """Mix-up defence: an iss that is not the issuer is refused, advertised or not."""
    flow = _flow(authorization_response_iss_parameter_supported=advertised)
    with pytest.raises(InvalidIssuer):
        flow.validate_callback(_callback(flow, iss=iss))


def test_callback_iss_checked_before_error_and_state() -> None:
    """A wrong iss is reported even on an error response with a wrong state."""
    flow = _flow()
    with pytest.raises(InvalidIssuer):
        flow.validate_callback(
            _callback(
                flow, iss="https://evil.example", state="x", error="access_denied", code="<omit>"
            )
        )


def test_callback_error_with_wrong_state_is_a_state_error() -> None:
    """An injected error response with a wrong state does not surface as the server's error."""
    flow = _flow()
    with pytest.raises(InvalidClaim):
        flow.validate_callback(_callback(flow, state="x", error="access_denied", code="<omit>"))


@pytest.mark.parametrize(
    ("error", "cls"),
    [
        ("access_denied", AccessDenied),
        ("invalid_scope", InvalidScope),
        ("server_error", OAuthServerError),
        ("temporarily_unavailable", TemporarilyUnavailable),
        ("login_required", OAuthServerError),
    ],
)
def test_callback_error_responses_are_typed(error: str, cls: type[OAuthError]) -> None:
    """An error response raises the OAuth error class with that error string."""
    flow = _flow()
    with pytest.raises(cls) as info:
        flow.validate_callback(
            _callback(flow, error=error, error_description="nope\x01!", code="<omit>")
        )
    assert info.value.description == "nope!"
    if cls is not OAuthServerError or error == "server_error":
        assert info.value.error == error
    else:
        assert error in info.value.reason


@pytest.mark.parametrize(
    "extra",
    [{"access_token": "a"}, {"id_token": "x.y.z"}, {"token_type": "Bearer"}, {"response": "jwt"}],
)
def test_callback_implicit_hybrid_and_jarm_refused(extra: dict[str, str]) -> None:
    """Implicit, hybrid and JARM responses are refused."""
    flow = _flow()
    with pytest.raises(MalformedRequest):
        flow.validate_callback(_callback(flow, **extra))


def test_callback_fragment_response_refused() -> None:
    """A response in the fragment (implicit) is refused."""
    flow = _flow()
    with pytest.raises(MalformedRequest, match="fragment"):
        flow.validate_callback(_callback(flow) + "#access_token=a")


def test_callback_malformed_inputs_refused() -> None:
    """No code, repeated parameters, a bad URL or a wrong type are refused."""
    flow = _flow()
    with pytest.raises(MalformedRequest, match="no code"):
        flow.validate_callback(_callback(flow, code=""))
    with pytest.raises(MalformedRequest):
        flow.validate_callback(_callback(flow) + "&state=" + flow.state)
    with pytest.raises(MalformedRequest):
        flow.validate_callback("https://[bad/cb?x=1")
    with pytest.raises(MalformedRequest):
        flow.validate_callback({"code": 1})  # type: ignore[dict-item]
    with pytest.raises(ConfigurationError):
        flow.validate_callback(42)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(query=st.text(max_size=200))
def test_callback_never_raises_untyped(query: str) -> None:
    """Any callback query is refused with a typed error or yields a code."""
    flow = _flow()
    try:
        flow.validate_callback("https://app.example/cb?" + query)
    except (VerificationError, ConfigurationError):
        pass


def test_token_request_carries_code_verifier_and_redirect_uri() -> None:
    """The code is redeemed with the verifier and the same redirect_uri."""
    flow = _flow()
    form = flow.token_request("the-code", now=T0).form()
    assert form["grant_type"] == "authorization_code"
    assert form["code"] == "the-code"
    assert form["code_verifier"] == flow.pkce.verifier
    assert form["redirect_uri"] == "https://app.example/cb"


# ----------------------------------------------------------------------------- token responses

GOOD = {"access_token": "AT", "token_type": "bearer", "expires_in": 600, "refresh_token": "RT"}


def test_token_response_parsed() -> None:
    """token_type is canonical, expires_at is absolute, scope a frozenset, cnf kept."""
    tokens = parse_token_response(
        _json(200, {**GOOD, "scope": "b a", "id_token": "x.y.z", "cnf": {"jkt": "t"}, "x": 1}),
        now=T0,
    )
    assert tokens.token_type == "Bearer"
    assert tokens.expires_at == T0 + dt.timedelta(seconds=600)
    assert tokens.scope == frozenset({"a", "b"})
    assert (tokens.refresh_token, tokens.id_token) == ("RT", "x.y.z")
    assert tokens.cnf == {"jkt": "t"}
    assert tokens.extra == {"x": 1}
    assert not tokens.expired(now=T0)
    assert tokens.expired(now=T0 + dt.timedelta(seconds=600))
    assert tokens.expired(now=T0, leeway=601)


def test_token_response_defaults() -> None:
    """No scope means the requested scope; no expires_in means unknown expiry; DPoP kept."""
    tokens = parse_token_response(
        _json(200, {"access_token": "AT", "token_type": "DPOP"}), now=T0, scope=frozenset({"r"})
    )
    assert tokens.scope == frozenset({"r"})
    assert tokens.expires_at is None
    assert not tokens.expired(now=T0)
    assert tokens.token_type == "DPoP"
    empty = parse_token_response(_json(200, {**GOOD, "scope": ""}), now=T0, scope=frozenset({"r"}))
    assert empty.scope == frozenset()


@pytest.mark.parametrize(
    "document",
    [
        {"token_type": "Bearer"},
        {"access_token": "", "token_type": "Bearer"},
        {"access_token": 5, "token_type": "Bearer"},
        {"access_token": "AT"},
        {"access_token": "AT", "token_type": "mac"},
        {**GOOD, "expires_in": -1},
        {**GOOD, "expires_in": "600"},
        {**GOOD, "expires_in": True},
        {**GOOD, "expires_in": 10**12},
        {**GOOD, "scope": "a  b"},
        {**GOOD, "scope": 'a"b'},
        {**GOOD, "refresh_token": 1},
        {**GOOD, "cnf": "jkt"},
        {**GOOD, "cnf": {"jkt": 1}},
        {"access_token": "A" * (64 * 1024 + 1), "token_type": "Bearer"},
    ],
)
def test_token_response_malformed_members_refused(document: dict[str, object]) -> None:
    """Missing, mistyped, oversized or out-of-range members are refused."""
    with pytest.raises(MalformedError):
        parse_token_response(_json(200, document), now=T0)


def test_token_response_body_checks() -> None:
    """Non-JSON, non-object, wrong media type and oversized bodies are refused."""
    with pytest.raises(DecodeError):
        parse_token_response(
            Response(status=200, headers={"Content-Type": "application/json"}, body=b"{"), now=T0
        )
    with pytest.raises(DecodeError):
        parse_token_response(_json(200, [GOOD]), now=T0)
    with pytest.raises(MalformedError, match="application/json"):
        parse_token_response(_json(200, GOOD, ctype="text/html"), now=T0)
    with pytest.raises(MalformedError, match="larger"):
        parse_token_response(_json(200, GOOD), now=T0, max_bytes=10)
    with pytest.raises(ConfigurationError):
        parse_token_response(b"{}", now=T0)  # type: ignore[arg-type]


def test_token_error_responses_are_typed() -> None:
    """A 400 with an error member raises its class; one without raises MalformedError."""
    with pytest.raises(InvalidGrant) as info:
        parse_token_response(_json(400, {"error": "invalid_grant", "error_description": "used"}))
    assert info.value.description == "used"
    with pytest.raises(SlowDown):
        parse_token_response(_json(400, {"error": "slow_down"}))
    with pytest.raises(MalformedError, match="HTTP 502"):
        parse_token_response(Response(status=502, body=b"<html>"))
    with pytest.raises(MalformedError):
        parse_token_response(_json(400, {"error": 5}))
    with pytest.raises(MalformedError):
        parse_token_response(_json(400, {"error": "bad\ncode"}))


def test_oauth_error_maps_every_known_string() -> None:
    """Each RFC error string maps to the class whose .error it is."""
    for code in ("invalid_request", "invalid_client", "unauthorized_client",
                 "unsupported_grant_type", "unsupported_response_type", "invalid_target",
                 "invalid_request_uri", "unsupported_token_type", "authorization_pending",
                 "expired_token"):  # fmt: skip
        assert oauth_error(code).error == code
    assert oauth_error("x", "d" * 2000).description == "d" * 512


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=300), status=st.sampled_from([200, 400, 401, 500]))
def test_token_parser_never_raises_untyped(body: bytes, status: int) -> None:
    """Any response body is parsed or refused with a typed error."""
    response = Response(status=status, headers={"Content-Type": "application/json"}, body=body)
    try:
        parse_token_response(response, now=T0)
    except VerificationError:
        pass


@settings(max_examples=200, deadline=None)
@given(
    document=st.dictionaries(
        st.sampled_from(
            ["access_token", "token_type", "expires_in", "scope", "cnf", "refresh_token"]
        ),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.text(max_size=20),
            st.lists(st.integers(), max_size=2),
        ),
    )
)
def test_token_parser_members_never_raise_untyped(document: dict[str, object]) -> None:
    """Any mix of member types is parsed or refused with a typed error."""
    try:
        parse_token_response(_json(200, document), now=T0)
    except VerificationError:
        pass


# ----------------------------------------------------------------------------- other parsers


def test_revocation_response() -> None:
    """200 is success; an error body raises its class."""
    parse_revocation_response(Response(status=200))
    with pytest.raises(OAuthError) as info:
        parse_revocation_response(_json(400, {"error": "unsupported_token_type"}))
    assert info.value.error == "unsupported_token_type"


def test_introspection_response() -> None:
    """An active response is typed; an inactive one keeps nothing but active=False."""
    active = parse_introspection_response(
        _json(200, {"active": True, "scope": "a", "aud": "x", "exp": 10, "sub": "u", "z": 1})
    )
    assert active.active
    assert active.audience == ("x",)
    assert active.expires_at == dt.datetime(1970, 1, 1, 0, 0, 10, tzinfo=dt.timezone.utc)
    assert active.extra == {"z": 1}
    inactive = parse_introspection_response(_json(200, {"active": False, "sub": "leak"}))
    assert inactive.subject is None
    assert not inactive.active
    for bad in ({"active": "true"}, {"active": True, "exp": "x"}, {"active": True, "aud": 1},
                {"active": True, "aud": [1]}, {"active": True, "sub": 2},
                # Year 10000: fromtimestamp raised a bare ValueError (found by fuzzing).
                {"active": True, "exp": 253402300800},
                {"active": True, "iat": 2**40 - 1}):  # fmt: skip
        with pytest.raises(MalformedError):
            parse_introspection_response(_json(200, bad))


def test_expires_in_past_the_year_9999_is_malformed() -> None:
    """``now + expires_in`` beyond what a datetime holds is the server's malformed answer."""
    late = dt.datetime(9999, 12, 1, tzinfo=dt.timezone.utc)
    token = {"access_token": "a", "token_type": "Bearer", "expires_in": 86_400 * 365}
    with pytest.raises(MalformedError, match="beyond the year 9999"):
        parse_token_response(_json(200, token), now=late)


def test_device_authorization_response_rfc8628_example() -> None:
    """The RFC 8628 section 3.2 example parses; interval defaults to 5 s."""
    example = {
        "device_code": "GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS",
        "user_code": "WDJB-MJHT",
        "verification_uri": "https://example.com/device",
        "verification_uri_complete": "https://example.com/device?user_code=WDJB-MJHT",
        "expires_in": 1800,
        "interval": 5,
    }
    device = parse_device_authorization_response(_json(200, example), now=T0)
    assert device.user_code == "WDJB-MJHT"
    assert device.expires_at == T0 + dt.timedelta(seconds=1800)
    del example["interval"]
    assert (
        parse_device_authorization_response(_json(200, example), now=T0).interval
        == DEFAULT_INTERVAL
    )
    del example["expires_in"]
    with pytest.raises(MalformedError):
        parse_device_authorization_response(_json(200, example), now=T0)


# ----------------------------------------------------------------------------- polling schedule


def _device(expires_in: int = 1800, interval: int = 5) -> DeviceAuthorization:
    return DeviceAuthorization(
        device_code="dc",
        user_code="U",
        verification_uri="https://as.example/device",
        verification_uri_complete=None,
        expires_at=T0 + dt.timedelta(seconds=expires_in),
        interval=interval,
    )


def test_polling_honours_interval_and_slow_down() -> None:
    """Waits start at interval, stay on pending, grow by 5 s on each slow_down."""
    clock = FixedClock(T0)
    schedule = device_polling(_device(), clock=clock)
    waits = [next(schedule)]
    for error in ("authorization_pending", "slow_down", "authorization_pending", "slow_down"):
        clock.advance(waits[-1])
        waits.append(schedule.send(_json(400, {"error": error})))
    assert waits == [5, 5, 10, 10, 15]
    clock.advance(15)
    with pytest.raises(StopIteration) as done:
        schedule.send(_json(200, GOOD))
    tokens = done.value.value
    assert isinstance(tokens, TokenSet)
    assert tokens.expires_at == clock.now() + dt.timedelta(seconds=600)


@pytest.mark.parametrize(
    ("error", "cls"), [("access_denied", AccessDenied), ("expired_token", DeviceCodeExpired)]
)
def test_polling_stops_on_denied_and_expired(error: str, cls: type[OAuthError]) -> None:
    """access_denied and expired_token end the schedule with their error."""
    schedule = device_polling(_device(), clock=FixedClock(T0))
    next(schedule)
    with pytest.raises(cls):
        schedule.send(_json(400, {"error": error}))


def test_polling_stops_before_the_device_code_expires() -> None:
    """No poll is scheduled past the device code's expiry."""
    clock = FixedClock(T0)
    schedule = device_polling(_device(expires_in=12), clock=clock)
    assert next(schedule) == 5
    clock.advance(5)
    assert schedule.send(_json(400, {"error": "authorization_pending"})) == 5
    clock.advance(5)
    with pytest.raises(DeviceCodeExpired):
        schedule.send(_json(400, {"error": "authorization_pending"}))
