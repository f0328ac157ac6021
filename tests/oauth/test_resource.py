"""The resource server: RFC 9068 JWTs, introspection, DPoP and mTLS binding, challenges."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authcore.clock import FixedClock
from authcore.errors import (
    ConfigurationError,
    FetchError,
    InsufficientTokenScope,
    InvalidDPoPProof,
    InvalidRequest,
    InvalidToken,
    OAuthError,
    UseDPoPNonce,
)
from authcore.http import Request, Response, parse_basic, parse_form
from authcore.jose import JWK, KeySet, jwt
from authcore.mtls import thumbprint
from authcore.oauth.dpop import DPoPKey, HMACNonces
from authcore.oauth.resource import (
    AccessTokenInfo,
    AsyncIntrospector,
    AsyncResourceServer,
    Introspector,
    ResourceServer,
    TokenSource,
    error_response,
    parse_introspection_response,
)
from authcore.stores.memory import MemoryOneTimeStore
from tests.mtls._pki import make_ca, make_leaf
from tests.oauth.helpers import (
    CLIENTS,
    SIGNING_KEY,
    TOKEN_URL,
    AsyncOneTime,
    body,
    make_env,
    post,
)
from tests.oauth.helpers import ISSUER as AS_ISSUER

ISS = "https://as.example"
RES = "https://api.example/"
URL = "https://api.example/things?x=1"
NOW = 1_700_000_000
AS_KEY = JWK.generate("ES256", kid="as")
CLIENT_KEY = DPoPKey.generate()
BEARER = 'Bearer realm="api"'
DPOP = 'DPoP realm="api", algs="ES256 EdDSA"'


def mint(drop: tuple[str, ...] = (), key: JWK = AS_KEY, typ: str = "at+jwt", **claims: Any) -> str:
    """An RFC 9068 access token for RES, valid at NOW, with overrides."""
    values: dict[str, Any] = {
        "iss": ISS,
        "sub": "alice",
        "aud": RES,
        "client_id": "web",
        "iat": NOW - 10,
        "exp": NOW + 300,
        "jti": "t1",
        "scope": "read write",
    }
    values.update(claims)
    for name in drop:
        values.pop(name)
    return jwt.encode(values, key, headers={"typ": typ})


def server(**options: Any) -> ResourceServer:
    """A resource server over AS_KEY accepting Bearer and DPoP, realm "api"."""
    settings: dict[str, Any] = {
        "resource": RES,
        "issuer": ISS,
        "keys": KeySet([AS_KEY.public()]),
        "algorithms": ["ES256"],
        "realm": "api",
        "dpop_replay": MemoryOneTimeStore(),
    }
    settings.update(options)
    return ResourceServer(**settings)


def req(
    authorization: str | None = None, *, proof: str | None = None, method: str = "GET"
) -> Request:
    """A request to URL with the given Authorization and DPoP headers."""
    headers: list[tuple[str, str]] = []
    if authorization is not None:
        headers.append(("Authorization", authorization))
    if proof is not None:
        headers.append(("DPoP", proof))
    return Request(method=method, url=URL, headers=headers)


def dpop_request(token: str, key: DPoPKey = CLIENT_KEY, **proof: Any) -> Request:
    """A DPoP-scheme request with a proof for URL."""
    proof.setdefault("now", NOW)
    proof.setdefault("access_token", token)
    return req("DPoP " + token, proof=key.proof("GET", URL, **proof))


def failure(rs: ResourceServer, request: Request, **options: Any) -> OAuthError:
    """The error authenticate raises."""
    with pytest.raises(OAuthError) as excinfo:
        rs.authenticate(request, now=NOW, **options)
    return excinfo.value


def invalid(description: str, scheme: str = "Bearer") -> tuple[str, ...]:
    """The challenges of an invalid_token failure on ``scheme``."""
    if scheme == "Bearer":
        first = f'Bearer realm="api", error="invalid_token", error_description="{description}"'
        return (first, DPOP)
    second = (
        f'DPoP realm="api", error="invalid_token", error_description="{description}", '
        'algs="ES256 EdDSA"'
    )
    return (BEARER, second)


# ----------------------------------------------------------------------------- Bearer JWTs


def test_bearer_jwt_accepted() -> None:
    """A valid RFC 9068 token yields its subject, client, scopes and audience."""
    info = server().authenticate(req("Bearer " + mint()), now=NOW)
    assert isinstance(info, AccessTokenInfo)
    assert (info.scheme, info.source) == ("Bearer", TokenSource.JWT)
    assert (info.subject, info.client_id, info.issuer) == ("alice", "web", ISS)
    assert info.scope == {"read", "write"}
    assert info.audience == (RES,)
    assert info.expires_at == NOW + 300
    assert info.jti == "t1"
    assert info.claims["sub"] == "alice"


def test_scheme_is_case_insensitive() -> None:
    """The scheme name matches regardless of case (RFC 9110 section 11.1)."""
    assert server().authenticate(req("bearer " + mint()), now=NOW).scheme == "Bearer"


def test_no_credentials_challenges_without_error() -> None:
    """No Authorization header: 401 with one bare challenge per scheme (RFC 6750 3.1)."""
    exc = failure(server(), req())
    assert isinstance(exc, InvalidToken)
    assert exc.challenges == (BEARER, DPOP)
    response = error_response(exc)
    assert response.status == 401
    assert response.headers.get_all("www-authenticate") == (BEARER, DPOP)
    assert response.body == b""


def test_bare_challenges_without_realm_or_dpop() -> None:
    """Without realm and DPoP the challenge is the bare scheme name."""
    exc = failure(server(realm=None, dpop_replay=None), req())
    assert getattr(exc, "challenges", None) == ("Bearer",)


def test_unsupported_scheme_is_treated_as_no_credentials() -> None:
    """Basic credentials (or DPoP when it is disabled) get the bare challenges."""
    exc = failure(server(), req("Basic dXNlcjpwYXNz"))
    assert getattr(exc, "challenges", None) == (BEARER, DPOP)
    exc = failure(server(dpop_replay=None), dpop_request(mint()))
    assert getattr(exc, "challenges", None) == (BEARER,)


def test_malformed_authorization_is_invalid_request() -> None:
    """A malformed or repeated Authorization header is a 400 invalid_request."""
    exc = failure(server(), req("Bearer a b"))
    assert isinstance(exc, InvalidRequest)
    assert error_response(exc).status == 400
    twice = Request(
        method="GET", url=URL, headers=[("Authorization", "Bearer a"), ("Authorization", "x")]
    )
    assert isinstance(failure(server(), twice), InvalidRequest)


def test_empty_credentials_refused() -> None:
    """The scheme alone is an invalid token."""
    exc = failure(server(), req("Bearer"))
    assert isinstance(exc, InvalidToken)
    assert exc.challenges == invalid("The access token is invalid")


def test_expired_token_challenge_exact() -> None:
    """An expired token: invalid_token with the RFC 6750 example's description."""
    exc = failure(server(), req("Bearer " + mint(exp=NOW - 1)))
    assert isinstance(exc, InvalidToken)
    assert exc.challenges == invalid("The access token expired")
    assert "exp" in exc.reason


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (lambda: mint(typ="JWT"), "typ"),
        (lambda: mint(typ="jwt+at"), "typ"),
        (lambda: mint(aud="https://other.example/"), "aud"),
        (lambda: mint(iss="https://evil.example"), "iss"),
        (lambda: mint(key=JWK.generate("ES256", kid="as")), "signature"),
        (lambda: mint(key=JWK.generate("ES384", kid="as")), "alg"),
        (lambda: mint(scope=["read"]), "scope"),
        (lambda: mint(cnf="x"), "cnf"),
        (lambda: mint(nbf=NOW + 100), "nbf"),
    ],
)
def test_jwt_rules(token: Any, reason: str) -> None:
    """Typ at+jwt, aud, iss, signature, alg, claim types and nbf are enforced."""
    exc = failure(server(), req("Bearer " + token()))
    assert isinstance(exc, InvalidToken)
    assert reason in exc.reason
    assert exc.challenges == invalid("The access token is invalid")


@pytest.mark.parametrize("claim", ["exp", "iss", "aud", "sub", "client_id", "iat", "jti"])
def test_rfc9068_required_claims(claim: str) -> None:
    """Each RFC 9068 section 2.2 required claim must be present."""
    exc = failure(server(), req("Bearer " + mint(drop=(claim,))))
    assert isinstance(exc, InvalidToken)
    assert claim in exc.reason


def test_token_size_cap() -> None:
    """An over-long token is refused before any work."""
    exc = failure(server(max_token_size=100), req("Bearer " + mint()))
    assert isinstance(exc, InvalidToken)
    assert "too large" in exc.reason


def test_opaque_token_without_introspection_refused() -> None:
    """A token that is not a JWT needs an introspector."""
    exc = failure(server(), req("Bearer opaque-token"))
    assert isinstance(exc, InvalidToken)
    assert "introspection" in exc.reason


# ----------------------------------------------------------------------------- scopes


def test_insufficient_scope_403_with_scope_attribute() -> None:
    """Missing scopes: 403 insufficient_scope naming every required scope."""
    exc = failure(server(scopes=["read"]), req("Bearer " + mint(scope="read")), scopes=["admin"])
    assert isinstance(exc, InsufficientTokenScope)
    assert exc.missing == ("admin",)
    assert exc.challenges == (
        (
            'Bearer realm="api", error="insufficient_scope", '
            'error_description="The access token lacks a required scope", scope="admin read"'
        ),
        DPOP,
    )
    assert error_response(exc).status == 403


def test_required_scopes_granted() -> None:
    """Server and per-call scopes pass when all are granted (a string is split)."""
    rs = server(scopes=["read"])
    assert rs.authenticate(req("Bearer " + mint()), scopes="write", now=NOW).scope


def test_token_without_scope_has_none() -> None:
    """A token without scope fails any scope requirement."""
    exc = failure(server(), req("Bearer " + mint(drop=("scope",))), scopes=["read"])
    assert isinstance(exc, InsufficientTokenScope)


# ----------------------------------------------------------------------------- DPoP


def bound() -> str:
    """A token bound to CLIENT_KEY."""
    return mint(cnf={"jkt": CLIENT_KEY.thumbprint})


def test_dpop_bound_token_accepted() -> None:
    """A DPoP-bound token with a valid proof is accepted with its jkt."""
    token = bound()
    info = server().authenticate(dpop_request(token), now=NOW)
    assert (info.scheme, info.jkt) == ("DPoP", CLIENT_KEY.thumbprint)


def test_dpop_bound_token_as_bearer_refused() -> None:
    """A DPoP-bound token presented as Bearer is refused (RFC 9449 section 7.2)."""
    exc = failure(server(), req("Bearer " + bound()))
    assert isinstance(exc, InvalidToken)
    assert exc.challenges == invalid("A DPoP-bound access token must use the DPoP scheme")


def test_dpop_bound_token_refused_when_dpop_disabled() -> None:
    """Without DPoP support a bound token cannot be used at all."""
    exc = failure(server(dpop_replay=None), req("Bearer " + bound()))
    assert isinstance(exc, InvalidToken)


def test_dpop_scheme_with_unbound_token_refused() -> None:
    """The DPoP scheme with a token without cnf.jkt is refused on the DPoP challenge."""
    exc = failure(server(), dpop_request(mint()))
    assert isinstance(exc, InvalidToken)
    assert exc.challenges == invalid("The access token is not DPoP-bound", "DPoP")


def test_dpop_proof_from_other_key_refused() -> None:
    """A proof by another key than cnf.jkt: invalid_dpop_proof, 401."""
    exc = failure(server(), dpop_request(bound(), key=DPoPKey.generate()))
    assert isinstance(exc, InvalidDPoPProof)
    assert "cnf.jkt" in exc.reason
    assert exc.challenges == (
        BEARER,
        (
            'DPoP realm="api", error="invalid_dpop_proof", error_description="Invalid DPoP proof", '
            'algs="ES256 EdDSA"'
        ),
    )
    assert error_response(exc).status == 401


def test_dpop_missing_proof_refused() -> None:
    """The DPoP scheme without a DPoP header is refused."""
    exc = failure(server(), req("DPoP " + bound()))
    assert isinstance(exc, InvalidDPoPProof)


def test_dpop_proof_without_ath_refused() -> None:
    """The proof must carry ath for the presented token."""
    exc = failure(server(), dpop_request(bound(), access_token="other"))
    assert isinstance(exc, InvalidDPoPProof)
    assert "ath" in exc.reason


def test_dpop_proof_replay_refused() -> None:
    """The same proof twice is a replay."""
    rs = server()
    request = dpop_request(bound(), jti="once")
    rs.authenticate(request, now=NOW)
    assert isinstance(failure(rs, request), InvalidDPoPProof)


def test_dpop_nonce_challenge_and_retry() -> None:
    """With nonces: 401 use_dpop_nonce with DPoP-Nonce, then the retry succeeds."""
    rs = server(dpop_nonces=HMACNonces(b"k" * 32))
    exc = failure(rs, dpop_request(bound()))
    assert isinstance(exc, UseDPoPNonce)
    assert exc.challenges == (
        BEARER,
        (
            'DPoP realm="api", error="use_dpop_nonce", '
            'error_description="Resource server requires nonce in DPoP proof", algs="ES256 EdDSA"'
        ),
    )
    assert exc.description == "Resource server requires nonce in DPoP proof"
    response = error_response(exc)
    assert response.status == 401
    assert response.headers["dpop-nonce"] == exc.nonce
    info = rs.authenticate(dpop_request(bound(), nonce=exc.nonce), now=NOW)
    assert info.dpop_nonce is None


def test_dpop_only_server() -> None:
    """bearer=False: Bearer is refused and only the DPoP challenge is offered."""
    rs = server(bearer=False)
    exc = failure(rs, req("Bearer " + mint()))
    assert getattr(exc, "challenges", None) == (DPOP,)
    assert rs.authenticate(dpop_request(bound()), now=NOW).jkt


# ----------------------------------------------------------------------------- mTLS


def test_certificate_bound_token() -> None:
    """cnf.x5t#S256 needs the matching client certificate."""
    ca = make_ca("ca")
    leaf, other = make_leaf(ca), make_leaf(ca, cn="other")
    token = mint(cnf={"x5t#S256": thumbprint(leaf.cert)})
    rs = server()
    info = rs.authenticate(req("Bearer " + token), certificate=leaf.cert, now=NOW)
    assert info.x5t_s256 == thumbprint(leaf.cert)
    for certificate in (None, other.cert):
        exc = failure(rs, req("Bearer " + token), certificate=certificate)
        assert isinstance(exc, InvalidToken)
        assert exc.challenges == invalid("The access token is bound to another key or certificate")


# ----------------------------------------------------------------------------- introspection


class FakeAS:
    """An introspection endpoint: records requests, answers with ``answer``."""

    def __init__(self, answer: dict[str, Any], status: int = 200) -> None:
        self.answer = answer
        self.status = status
        self.requests: list[Request] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        return Response.json(self.status, self.answer)


def active(**members: Any) -> dict[str, Any]:
    """An active introspection answer for RES."""
    values: dict[str, Any] = {
        "active": True,
        "client_id": "web",
        "scope": "read",
        "sub": "bob",
        "aud": [RES],
        "iss": ISS,
        "exp": NOW + 100,
        "token_type": "Bearer",
    }
    values.update(members)
    return {k: v for k, v in values.items() if v is not None}


def introspecting(fake: FakeAS, **options: Any) -> ResourceServer:
    """A resource server that only introspects."""
    introspector = Introspector(
        "https://as.example/introspect", fake, client_id="rs", client_secret="s e:cret"
    )
    return server(keys=None, algorithms=None, introspection=introspector, **options)


def test_introspection_request_is_rfc7662() -> None:
    """The request is a form POST with token and hint, authenticated with Basic."""
    introspector = Introspector(
        "https://as.example/introspect", FakeAS(active()), client_id="rs", client_secret="s e:c"
    )
    request = introspector.request("tok")
    assert (request.method, request.url) == ("POST", "https://as.example/introspect")
    assert request.form() == {"token": "tok", "token_type_hint": "access_token"}
    auth = request.authorization()
    assert auth is not None
    assert auth.scheme == "basic"
    credentials = parse_basic(auth.credentials, form_urlencoded=True)
    assert (credentials.username, credentials.password) == ("rs", "s e:c")
    assert parse_form(request.body)["token"] == "tok"


def test_opaque_token_introspected_and_cached() -> None:
    """An active answer is used and cached: a second request does not call the AS."""
    fake = FakeAS(active())
    rs = introspecting(fake)
    info = rs.authenticate(req("Bearer opaque"), now=NOW)
    assert (info.source, info.subject, info.scope) == (
        TokenSource.INTROSPECTION,
        "bob",
        frozenset({"read"}),
    )
    rs.authenticate(req("Bearer opaque"), now=NOW + 10)
    assert len(fake.requests) == 1


def test_cache_never_outlives_exp() -> None:
    """A cached answer is not used past the token's exp, even within the TTL."""
    fake = FakeAS(active(exp=NOW + 5))
    rs = introspecting(fake)
    rs.authenticate(req("Bearer opaque"), now=NOW)
    with pytest.raises(InvalidToken):
        rs.authenticate(req("Bearer opaque"), now=NOW + 6)
    assert len(fake.requests) == 2


def test_cache_ttl_expires() -> None:
    """After the TTL the AS is asked again."""
    fake = FakeAS(active(exp=NOW + 1000))
    rs = introspecting(fake)
    rs.authenticate(req("Bearer opaque"), now=NOW)
    rs.authenticate(req("Bearer opaque"), now=NOW + 61)
    assert len(fake.requests) == 2


def test_cache_is_bounded() -> None:
    """The cache keeps at most max_entries answers."""
    fake = FakeAS(active())
    introspector = Introspector("https://as.example/i", fake, max_entries=2)
    for token in ("a", "b", "c", "a"):
        introspector.introspect(token, now=NOW)
    assert len(fake.requests) == 4


def test_inactive_token_refused_and_not_cached() -> None:
    """active: false is invalid_token and is asked again next time."""
    fake = FakeAS({"active": False})
    rs = introspecting(fake)
    for _ in range(2):
        exc = failure(rs, req("Bearer opaque"))
        assert isinstance(exc, InvalidToken)
        assert exc.challenges == invalid("The access token is invalid")
    assert len(fake.requests) == 2


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        ({"aud": None}, "aud"),
        ({"aud": "https://other.example/"}, "aud"),
        ({"iss": "https://evil.example"}, "iss"),
        ({"token_type": "refresh_token"}, "access token"),
        ({"exp": NOW}, "exp"),
        ({"nbf": NOW + 60}, "nbf"),
        ({"exp": "soon"}, "exp"),
        ({"scope": 5}, "scope"),
    ],
)
def test_introspection_answer_rules(members: dict[str, Any], reason: str) -> None:
    """Audience, issuer, token type, times and member types are checked."""
    exc = failure(introspecting(FakeAS(active(**members))), req("Bearer opaque"))
    assert isinstance(exc, InvalidToken)
    assert reason in exc.reason


@pytest.mark.parametrize(
    "response",
    [
        Response.json(500, {"active": True}),
        Response(status=200, body=b"not json"),
        Response.json(200, ["active"]),
        Response.json(200, {"active": "true"}),
        Response(status=200, body=b" " * 70000),
    ],
)
def test_introspection_failures_are_fetch_errors(response: Response) -> None:
    """A failing or malformed AS answer is the AS's fault: FetchError, not 401."""
    with pytest.raises(FetchError):
        parse_introspection_response(response)


def test_async_resource_server_introspects() -> None:
    """The async variant awaits the introspection callable and applies the same rules."""
    fake = FakeAS(active())

    async def send(request: Request) -> Response:
        return fake(request)

    rs = AsyncResourceServer(
        resource=RES,
        issuer=ISS,
        introspection=AsyncIntrospector("https://as.example/i", send),
    )

    async def run() -> AccessTokenInfo:
        await rs.authenticate(req("Bearer opaque"), now=NOW)
        return await rs.authenticate(req("Bearer opaque"), now=NOW)

    assert asyncio.run(run()).subject == "bob"
    assert len(fake.requests) == 1
    with pytest.raises(InvalidToken):
        asyncio.run(rs.authenticate(req(), now=NOW))


@pytest.mark.parametrize("store", [AsyncOneTime, MemoryOneTimeStore])
def test_async_resource_server_records_dpop_proofs_in_either_store(store: type[Any]) -> None:
    """An async store is awaited, a sync one called: either way a proof is accepted once."""
    replay = store()
    rs = AsyncResourceServer(
        resource=RES,
        issuer=ISS,
        keys=KeySet([AS_KEY.public()]),
        algorithms=["ES256"],
        realm="api",
        dpop_replay=replay,
    )
    request = dpop_request(bound(), jti="once")
    info = asyncio.run(rs.authenticate(request, now=NOW))
    assert (info.scheme, info.jkt) == ("DPoP", CLIENT_KEY.thumbprint)
    with pytest.raises(InvalidDPoPProof, match="replay") as excinfo:
        asyncio.run(rs.authenticate(request, now=NOW))
    assert excinfo.value.challenges == (
        BEARER,
        (
            'DPoP realm="api", error="invalid_dpop_proof", error_description="Invalid DPoP proof", '
            'algs="ES256 EdDSA"'
        ),
    )
    if isinstance(replay, AsyncOneTime):
        assert replay.adds == 2
    # A refused proof (another key) is not recorded, in either store.
    other = dpop_request(bound(), key=DPoPKey.generate(), jti="other")
    with pytest.raises(InvalidDPoPProof, match=r"cnf\.jkt"):
        asyncio.run(rs.authenticate(other, now=NOW))
    if isinstance(replay, AsyncOneTime):
        assert replay.adds == 2


def test_the_sync_resource_server_refuses_an_async_dpop_store() -> None:
    with pytest.raises(ConfigurationError, match="dpop_replay must be a synchronous"):
        server(dpop_replay=AsyncOneTime())


# ----------------------------------------------------------------------------- with our AS


def test_authorization_server_tokens_round_trip() -> None:
    """Tokens from authcore's AS verify as JWTs and through its introspection endpoint."""
    env = make_env()
    response = env.server.token_endpoint(
        post(TOKEN_URL, {"grant_type": "client_credentials", "scope": "read", "resource": RES})
    )
    assert response.status == 200, response.body
    token = body(response)["access_token"]
    rs_jwt = ResourceServer(
        resource=RES, issuer=AS_ISSUER, keys=KeySet([SIGNING_KEY.public()]), algorithms=["ES256"]
    )
    when = env.clock.now()
    assert rs_jwt.authenticate(req("Bearer " + token), scopes=["read"], now=when).client_id == "web"

    def send(request: Request) -> Response:
        return env.server.introspection_endpoint(request)

    introspector = Introspector(
        AS_ISSUER + "/introspect",
        send,
        client_id="web",
        client_secret=str(CLIENTS["web"]["client_secret"]),
    )
    rs_intro = ResourceServer(resource=RES, issuer=AS_ISSUER, introspection=introspector)
    info = rs_intro.authenticate(req("Bearer " + token), now=when)
    assert (info.source, info.client_id, info.scope) == (
        TokenSource.INTROSPECTION,
        "web",
        frozenset({"read"}),
    )


# ----------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    "options",
    [
        {"keys": None},
        {"algorithms": None},
        {"resource": ""},
        {"issuer": []},
        {"realm": 'a"b'},
        {"scopes": ["a b"]},
        {"bearer": False, "dpop_replay": None},
        {"dpop_algorithms": ["HS256"]},
        {"dpop_nonces": object()},
        {"max_token_size": 0},
        {"clock": object()},
        {"introspection": object()},
        {"dpop_replay": object()},
    ],
)
def test_configuration_errors(options: dict[str, Any]) -> None:
    """Missing or invalid options are configuration errors at construction."""
    with pytest.raises(ConfigurationError):
        server(**options)


@pytest.mark.parametrize(
    "options",
    [
        {"endpoint": "/relative"},
        {"send": "not callable"},
        {"client_id": "x"},
        {"cache_ttl": -1},
        {"max_entries": 0},
    ],
)
def test_introspector_configuration_errors(options: dict[str, Any]) -> None:
    """Introspector options are checked at construction."""
    args: dict[str, Any] = {"endpoint": "https://as.example/i", "send": FakeAS(active())}
    args.update(options)
    with pytest.raises(ConfigurationError):
        Introspector(args.pop("endpoint"), args.pop("send"), **args)


def test_error_response_needs_an_oauth_error() -> None:
    """error_response refuses anything but an OAuthError."""
    with pytest.raises(ConfigurationError):
        error_response(ValueError("x"))  # type: ignore[arg-type]


def test_authenticate_needs_a_request() -> None:
    """Authenticate refuses anything but an authcore Request."""
    with pytest.raises(ConfigurationError):
        server().authenticate("Bearer x", now=NOW)  # type: ignore[arg-type]


def test_clock_used_without_now() -> None:
    """Without now=, the server's clock drives the JWT, DPoP and introspection checks."""
    clock = FixedClock(dt.datetime.fromtimestamp(NOW, dt.timezone.utc))
    rs = server(clock=clock)
    assert rs.authenticate(dpop_request(bound())).jkt
    clock.advance(400)
    with pytest.raises(InvalidToken):
        rs.authenticate(req("Bearer " + mint()))


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["Authorization", "DPoP", "authorization"]),
            st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80),
        ),
        max_size=3,
    )
)
def test_arbitrary_headers_raise_oauth_errors_only(headers: list[tuple[str, str]]) -> None:
    """Any Authorization and DPoP header values end in an OAuthError, never another type."""
    request = Request(method="GET", url=URL, headers=headers)
    with pytest.raises(OAuthError):
        server().authenticate(request, now=NOW)
