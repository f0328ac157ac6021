"""authcore.authn: every scheme, each pairing's rule (kept and broken), challenges, async."""

from __future__ import annotations

import asyncio
import datetime as dt
import urllib.parse
from typing import Any

import pytest

from authcore.apikeys import KeyHasher, KeyManager
from authcore.authn import (
    APIKey,
    AsyncAuthenticator,
    Authenticator,
    BearerJWT,
    MutualTLS,
    OAuthAccessToken,
    Principal,
    api_key_and_jwt,
    exchange_api_key,
    mtls_and_api_key,
    mtls_and_jwt,
)
from authcore.clock import utc_now
from authcore.errors import (
    AuthenticationFailed,
    ConfigurationError,
    InsufficientScope,
    InvalidCredentials,
    RateLimited,
    StoreError,
)
from authcore.http import Request
from authcore.jose import JWK, JWTVerifier, jwt
from authcore.jose.keyring import KeyRing
from authcore.mtls import ClientIdentity, TrustStore, verify_client
from authcore.mtls._testpki import make_test_pki
from authcore.oauth.resource import ResourceServer
from authcore.ratelimit import GCRA
from authcore.stores.memory import MemoryKeyStore, MemoryRateLimitStore

ISSUER = "https://login.example"
API = "https://api.example"
SPIFFE = "spiffe://example.test/workload/client"
SIGNING = JWK.generate("ES256", kid="k1")
NOW = utc_now()
PKI = make_test_pki(
    dns_names=["localhost"], client_dns_names=["client.test"], spiffe_id=SPIFFE, now=NOW, days=2
)
TRUST = TrustStore(PKI.files["root.pem"], spiffe_bundles={"example.test": PKI.files["root.pem"]})
IDENTITY: ClientIdentity = verify_client(PKI.files["client.pem"], trust=TRUST)
OTHER_PKI = make_test_pki(
    dns_names=["localhost"], client_dns_names=["x.test"], spiffe_id=None, now=NOW, days=2
)
OTHER_IDENTITY = verify_client(
    OTHER_PKI.files["client.pem"], trust=TrustStore.from_pem(OTHER_PKI.files["root.pem"])
)


def _manager(**options: Any) -> KeyManager:
    return KeyManager(MemoryKeyStore(), KeyHasher({"p1": b"p" * 32}), prefix="sk_test", **options)


MANAGER = _manager()
APP_KEY = MANAGER.create(owner="app1", scopes=["read", "write"]).token
WORKLOAD_KEY = MANAGER.create(
    owner="app2", scopes=["read"], metadata={"mtls_identity": SPIFFE}
).token
VERIFIER = JWTVerifier(SIGNING.public(), algorithms=["ES256"], issuer=ISSUER, audience=API)


def _jwt(**claims: Any) -> str:
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": API,
        "sub": "alice",
        "azp": "app1",
        "scope": "read",
        "exp": int(NOW.timestamp()) + 600,
    }
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, SIGNING)


def _request(**headers: str) -> Request:
    return Request(method="GET", url=API + "/photos", headers=headers)


def _bearer(token: str, **headers: str) -> Request:
    return _request(Authorization="Bearer " + token, **headers)


ANY = Authenticator([APIKey(MANAGER), BearerJWT(VERIFIER, realm="api")])


# ----------------------------------------------------------------------------- single schemes


def test_an_api_key_in_its_header_names_the_application() -> None:
    principal = ANY.authenticate(_request(**{"X-API-Key": APP_KEY}), scopes=["read"])
    assert principal == Principal(
        application="app1",
        subject=None,
        scopes=frozenset({"read", "write"}),
        methods=("api_key",),
        key=principal.key,
    )
    assert principal.key is not None
    assert principal.key.owner == "app1"


def test_a_bearer_api_key_never_reaches_the_jwt_verifier() -> None:
    calls: list[str] = []

    class Spy:
        def verify(self, token: str | bytes, *, now: Any = None) -> dict[str, Any]:
            calls.append(str(token))
            return VERIFIER.verify(token, now=now)

    authenticator = Authenticator([BearerJWT(Spy()), APIKey(MANAGER)])  # type: ignore[arg-type]
    assert authenticator.authenticate(_bearer(APP_KEY)).methods == ("api_key",)
    assert calls == []


def test_async_bearer_check_uses_a_plain_verify_when_there_is_no_averify() -> None:
    """A verifier with only verify() (a wrapper of the caller's) still works when awaited."""
    calls: list[str] = []

    class Plain:
        def verify(self, token: str | bytes, *, now: Any = None) -> dict[str, Any]:
            calls.append(str(token))
            return VERIFIER.verify(token, now=now)

    token = _jwt()
    authenticator = AsyncAuthenticator([BearerJWT(Plain())])  # type: ignore[arg-type]
    principal = asyncio.run(authenticator.authenticate(_bearer(token)))
    assert (principal.subject, calls) == ("alice", [token])


def test_a_jwt_names_the_user() -> None:
    principal = ANY.authenticate(_bearer(_jwt()))
    assert (principal.subject, principal.application) == ("alice", "app1")
    assert principal.scopes == {"read"}
    assert principal.claims["iss"] == ISSUER


def test_no_credentials_is_401_with_every_challenge() -> None:
    with pytest.raises(AuthenticationFailed) as refused:
        ANY.authenticate(_request())
    error = refused.value
    assert error.status == 401
    assert error.error is None
    assert error.challenges == ('APIKey header="X-API-Key"', 'Bearer realm="api"')
    assert ("WWW-Authenticate", 'Bearer realm="api"') in error.headers()


@pytest.mark.parametrize(
    "request_",
    [
        _bearer(_jwt(exp=int(NOW.timestamp()) - 10)),
        _bearer(_jwt(iss="https://evil.example")),
        _bearer(jwt.encode({"sub": "x"}, JWK.generate("ES256"))),
        _request(**{"X-API-Key": _manager().create(owner="x").token}),
        _request(**{"X-API-Key": APP_KEY[:-1] + ("A" if APP_KEY[-1] != "A" else "B")}),
    ],
    ids=["expired", "issuer", "signature", "unknown-key", "bad-checksum"],
)
def test_bad_credentials_are_401_invalid_token(request_: Request) -> None:
    with pytest.raises(AuthenticationFailed) as refused:
        ANY.authenticate(request_)
    assert refused.value.status == 401
    assert refused.value.error == "invalid_token"
    assert all('error="invalid_token"' in c for c in refused.value.challenges)
    assert refused.value.__cause__ is not None


def test_a_missing_scope_is_403_insufficient_scope() -> None:
    with pytest.raises(AuthenticationFailed) as refused:
        ANY.authenticate(_bearer(_jwt()), scopes=["admin"])
    error = refused.value
    assert error.status == 403
    assert error.missing == ("admin",)
    assert 'Bearer realm="api", error="insufficient_scope"' in error.challenges[1]
    assert 'scope="admin"' in error.challenges[1]


def test_rate_limits_and_store_failures_keep_their_types() -> None:
    limited = _manager(limiter=MemoryRateLimitStore())
    token = limited.create(owner="a", rate_limit=GCRA(1, 60, 1)).token
    authenticator = Authenticator([APIKey(limited)])
    authenticator.authenticate(_request(**{"X-API-Key": token}))
    with pytest.raises(RateLimited):
        authenticator.authenticate(_request(**{"X-API-Key": token}))

    class Broken:
        def verify(self, token: str | bytes, *, now: Any = None) -> dict[str, Any]:
            del token, now
            raise StoreError("denylist down")

    with pytest.raises(StoreError):
        Authenticator([BearerJWT(Broken())]).authenticate(_bearer(_jwt()))  # type: ignore[arg-type]


def test_mtls_from_the_tls_layer_and_from_a_trusted_proxy() -> None:
    direct = Authenticator([MutualTLS()])
    principal = direct.authenticate(_request(), certificate=IDENTITY)
    assert principal.application == SPIFFE
    assert principal.identity is IDENTITY
    proxied = Authenticator([MutualTLS(trust=TRUST, proxy_header="X-Client-Cert")])
    escaped = urllib.parse.quote(PKI.files["client.pem"].decode())
    principal = proxied.authenticate(_request(**{"X-Client-Cert": escaped}))
    assert principal.application == SPIFFE
    with pytest.raises(AuthenticationFailed):  # a certificate of another PKI
        proxied.authenticate(
            _request(
                **{"X-Client-Cert": urllib.parse.quote(OTHER_PKI.files["client.pem"].decode())}
            )
        )
    with pytest.raises(ConfigurationError):
        MutualTLS(proxy_header="X-Client-Cert")  # a proxy header without trust anchors


def test_oauth_access_tokens_through_the_resource_server() -> None:
    server = ResourceServer(
        resource=API, issuer=ISSUER, keys=SIGNING.public(), algorithms=["ES256"]
    )
    authenticator = Authenticator([APIKey(MANAGER), OAuthAccessToken(server)])
    token = jwt.encode(
        {
            "iss": ISSUER,
            "aud": API,
            "sub": "alice",
            "client_id": "app1",
            "scope": "read",
            "exp": int(NOW.timestamp()) + 600,
            "iat": int(NOW.timestamp()),
            "jti": "t1",
        },
        SIGNING,
        headers={"typ": "at+jwt"},
    )
    principal = authenticator.authenticate(_bearer(token))
    assert principal.methods == ("oauth",)
    assert principal.application == "app1"
    with pytest.raises(AuthenticationFailed) as refused:
        authenticator.authenticate(_bearer(token), scopes=["write"])
    assert refused.value.status == 403
    with pytest.raises(AuthenticationFailed) as refused:
        authenticator.authenticate(_bearer(_jwt()))  # no typ at+jwt
    assert refused.value.challenges[0].startswith('Bearer error="invalid_token"')


# ----------------------------------------------------------------------------- pairings


KEY_AND_JWT = api_key_and_jwt(APIKey(MANAGER), BearerJWT(VERIFIER))


def test_api_key_and_jwt_requires_both_and_the_same_application() -> None:
    principal = KEY_AND_JWT.authenticate(_bearer(_jwt(), **{"X-API-Key": APP_KEY}))
    assert isinstance(principal, Principal)
    assert (principal.application, principal.subject) == ("app1", "alice")
    assert principal.methods == ("api_key", "jwt")
    assert principal.scopes == {"read"}  # what both grant
    for missing in (_bearer(_jwt()), _request(**{"X-API-Key": APP_KEY})):
        with pytest.raises(AuthenticationFailed) as refused:
            KEY_AND_JWT.authenticate(missing)
        assert refused.value.error is None
    with pytest.raises(AuthenticationFailed) as refused:
        KEY_AND_JWT.authenticate(_bearer(_jwt(azp="app9"), **{"X-API-Key": APP_KEY}))
    assert "not the API key's owner" in refused.value.reason
    loose = api_key_and_jwt(APIKey(MANAGER), BearerJWT(VERIFIER), owner_claims=None)
    assert loose.authenticate(_bearer(_jwt(azp="app9"), **{"X-API-Key": APP_KEY})).subject


def test_mtls_and_jwt_requires_the_token_bound_to_the_certificate() -> None:
    pairing = mtls_and_jwt(MutualTLS(), BearerJWT(VERIFIER))
    bound = _jwt(cnf={"x5t#S256": IDENTITY.thumbprint})
    principal = pairing.authenticate(_bearer(bound), certificate=IDENTITY)
    assert isinstance(principal, Principal)
    assert principal.methods == ("mtls", "jwt")
    assert principal.application == SPIFFE
    assert principal.subject == "alice"
    for token, certificate in (
        (bound, OTHER_IDENTITY),  # another certificate
        (_jwt(), IDENTITY),  # an unbound token
    ):
        with pytest.raises(AuthenticationFailed) as refused:
            pairing.authenticate(_bearer(token), certificate=certificate)
        assert refused.value.status == 401
    with pytest.raises(AuthenticationFailed):
        pairing.authenticate(_bearer(bound))  # no certificate at all


def test_mtls_and_api_key_requires_the_key_registered_for_the_certificate() -> None:
    pairing = mtls_and_api_key(MutualTLS(), APIKey(MANAGER))
    principal = pairing.authenticate(_request(**{"X-API-Key": WORKLOAD_KEY}), certificate=IDENTITY)
    assert isinstance(principal, Principal)
    assert principal.application == "app2"  # the key names the application
    assert principal.identity is IDENTITY
    with pytest.raises(AuthenticationFailed):
        pairing.authenticate(_request(**{"X-API-Key": APP_KEY}), certificate=IDENTITY)
    with pytest.raises(AuthenticationFailed):
        pairing.authenticate(_request(**{"X-API-Key": WORKLOAD_KEY}), certificate=OTHER_IDENTITY)


# ----------------------------------------------------------------------------- async


def test_the_async_authenticator_decides_the_same() -> None:
    authenticator = AsyncAuthenticator([APIKey(MANAGER), BearerJWT(VERIFIER, realm="api")])
    pairing = api_key_and_jwt(APIKey(MANAGER), BearerJWT(VERIFIER), asynchronous=True)

    async def run() -> list[object]:
        results: list[object] = [
            await authenticator.authenticate(_request(**{"X-API-Key": APP_KEY})),
            await pairing.authenticate(_bearer(_jwt(), **{"X-API-Key": APP_KEY})),
        ]
        for request, scopes in ((_request(), ()), (_bearer(_jwt()), ("admin",))):
            try:
                await authenticator.authenticate(request, scopes=scopes)
            except AuthenticationFailed as exc:
                results.append((exc.status, exc.challenges))
        return results

    by_key, paired, missing, scope = asyncio.run(run())
    assert by_key == ANY.authenticate(_request(**{"X-API-Key": APP_KEY}))
    assert paired == KEY_AND_JWT.authenticate(_bearer(_jwt(), **{"X-API-Key": APP_KEY}))
    assert missing == (401, ('APIKey header="X-API-Key"', 'Bearer realm="api"'))
    assert isinstance(scope, tuple)
    assert scope[0] == 403


# ----------------------------------------------------------------------------- exchange


def test_an_api_key_is_exchanged_for_a_short_lived_narrowed_jwt() -> None:
    keys = KeyRing.create(SIGNING, now=NOW - dt.timedelta(minutes=1))
    issued = exchange_api_key(
        MANAGER, APP_KEY, keys=keys, issuer=ISSUER, audience=API, scopes=["read"], lifetime=120
    )
    assert issued.scopes == {"read"}
    claims = JWTVerifier(
        SIGNING.public(), algorithms=["ES256"], issuer=ISSUER, audience=API, typ="at+jwt"
    ).verify(issued.token)
    assert claims["sub"] == claims["azp"] == "app1"
    assert claims["exp"] - claims["iat"] == 120
    assert claims["scope"] == "read"
    # The exchanged token then works wherever a JWT is accepted.
    assert ANY.authenticate(_bearer(issued.token)).application == "app1"
    with pytest.raises(InsufficientScope):
        exchange_api_key(MANAGER, APP_KEY, keys=keys, issuer=ISSUER, audience=API, scopes=["admin"])
    stranger = _manager().create(owner="x").token  # well formed, unknown to MANAGER
    with pytest.raises(InvalidCredentials):
        exchange_api_key(MANAGER, stranger, keys=keys, issuer=ISSUER, audience=API)
    with pytest.raises(ConfigurationError):
        exchange_api_key(MANAGER, APP_KEY, keys=keys, issuer=ISSUER, audience=API, lifetime=86400)


@pytest.mark.parametrize(
    "schemes", [[], ["not a scheme"], "X-API-Key"], ids=["empty", "junk", "string"]
)
def test_bad_configurations_are_refused(schemes: Any) -> None:
    with pytest.raises(ConfigurationError):
        Authenticator(schemes)
    with pytest.raises(ConfigurationError):
        ANY.authenticate(_request(), scopes="read")


# ----------------------------------------------------------------------------- edges


def test_scopes_from_scp_lists_and_odd_claims() -> None:
    listed = ANY.authenticate(_bearer(_jwt(scope=None, scp=["read", "write"])), scopes=["write"])
    assert listed.scopes == {"read", "write"}
    odd = ANY.authenticate(_bearer(_jwt(scope=7, azp=None, client_id="app7")))
    assert odd.scopes == frozenset()
    assert odd.application == "app7"


def test_malformed_and_repeated_headers_are_refused_typed() -> None:
    with pytest.raises(AuthenticationFailed) as refused:
        ANY.authenticate(_request(Authorization="Bearer a b c"))
    assert refused.value.error is None  # no usable credentials at all
    repeated = Request(
        method="GET",
        url=API,
        headers=[("X-API-Key", APP_KEY), ("X-API-Key", APP_KEY)],
    )
    with pytest.raises(AuthenticationFailed) as refused:
        ANY.authenticate(repeated)
    assert refused.value.error == "invalid_token"


def test_mtls_verifies_raw_certificates_against_its_trust_store() -> None:
    certificate = IDENTITY.certificate
    with pytest.raises(AuthenticationFailed):  # a leaf without its intermediate: no path
        Authenticator([MutualTLS(trust=TRUST)]).authenticate(_request(), certificate=certificate)
    with pytest.raises(ConfigurationError):
        Authenticator([MutualTLS()]).authenticate(_request(), certificate=certificate)
    with pytest.raises(ConfigurationError):
        Authenticator([MutualTLS()]).authenticate(_request(), certificate="pem")  # type: ignore[arg-type]


def test_an_async_resource_server_needs_the_async_authenticator() -> None:
    from authcore.oauth.resource import AsyncResourceServer  # noqa: PLC0415

    server = AsyncResourceServer(
        resource=API, issuer=ISSUER, keys=SIGNING.public(), algorithms=["ES256"]
    )
    with pytest.raises(ConfigurationError):
        Authenticator([OAuthAccessToken(server)]).authenticate(_bearer(_jwt()))


@pytest.mark.parametrize(
    "build",
    [
        lambda: APIKey(object()),  # type: ignore[arg-type]
        lambda: BearerJWT(object()),  # type: ignore[arg-type]
        lambda: OAuthAccessToken(object()),  # type: ignore[arg-type]
        lambda: MutualTLS(trust=object()),  # type: ignore[arg-type]
        lambda: api_key_and_jwt(APIKey(MANAGER, header="Authorization"), BearerJWT(VERIFIER)),
        lambda: Authenticator([APIKey(MANAGER)], all_of=True),
    ],
    ids=["manager", "verifier", "resource-server", "trust", "key-in-authorization", "pair-of-one"],
)
def test_scheme_and_pairing_settings_are_checked(build: Any) -> None:
    with pytest.raises(ConfigurationError):
        build()


def test_authenticators_describe_themselves() -> None:
    assert repr(ANY) == "Authenticator(any of api_key, jwt)"
    assert repr(KEY_AND_JWT) == "Authenticator(all of api_key, jwt)"
