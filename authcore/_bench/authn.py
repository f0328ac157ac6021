"""The authn pairings against their parts called directly: what the composition costs.

Each floor does exactly the checks of the pairing with the primitives themselves and no
request object: API key + JWT is ``KeyManager.verify`` of the key, ``JWTVerifier.verify`` of
the token and the owner comparison; mTLS + JWT is ``JWTVerifier.verify`` and
:func:`~authcore.mtls.check_binding` against the already verified client identity.  The
:class:`~authcore.authn.Authenticator` adds reading the headers of an
:class:`~authcore.http.Request`, choosing the schemes, and building the principal.
"""

from __future__ import annotations

from typing import Any

from authcore._bench import Group
from authcore.apikeys import KeyHasher, KeyManager
from authcore.authn import APIKey, BearerJWT, MutualTLS, api_key_and_jwt, mtls_and_jwt
from authcore.clock import utc_now
from authcore.http import Request
from authcore.jose import JWK, JWTVerifier, jwt
from authcore.mtls import TrustStore, check_binding, verify_client
from authcore.mtls._testpki import make_test_pki
from authcore.stores.memory import MemoryKeyStore

NAME = "authn"

ISSUER = "https://login.example"
API = "https://api.example"


def groups(quick: bool) -> list[Group]:  # noqa: FBT001 - suite protocol
    """API key + JWT and mTLS + JWT, each against its parts."""
    del quick
    now = utc_now()
    signing = JWK.generate("ES256", kid="k")
    verifier = JWTVerifier(signing.public(), algorithms=["ES256"], issuer=ISSUER, audience=API)
    manager = KeyManager(MemoryKeyStore(), KeyHasher({"p1": b"b" * 32}), prefix="sk_bench")
    key = manager.create(owner="app1", scopes=["read"]).token
    pki = make_test_pki(
        dns_names=["localhost"], client_dns_names=["client.test"], spiffe_id=None, now=now, days=1
    )
    identity = verify_client(pki.files["client.pem"], trust=TrustStore(pki.files["root.pem"]))
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": API,
        "sub": "alice",
        "azp": "app1",
        "scope": "read",
        "exp": int(now.timestamp()) + 86400,
    }
    token = jwt.encode(base, signing)
    bound = jwt.encode({**base, "cnf": {"x5t#S256": identity.thumbprint}}, signing)
    key_and_jwt = api_key_and_jwt(APIKey(manager), BearerJWT(verifier))
    paired = Request(
        method="GET",
        url=API + "/x",
        headers={"X-API-Key": key, "Authorization": "Bearer " + token},
    )
    mtls_jwt = mtls_and_jwt(MutualTLS(), BearerJWT(verifier))
    bound_request = Request(
        method="GET", url=API + "/x", headers={"Authorization": "Bearer " + bound}
    )

    def key_and_jwt_floor() -> object:
        record = manager.verify(key)
        claims = verifier.verify(token)
        if claims.get("azp") != record.owner:  # pragma: no cover - smoke check
            raise AssertionError("owner")
        return claims["sub"]

    def key_and_jwt_authn() -> object:
        return key_and_jwt.authenticate(paired).subject

    def mtls_floor() -> object:
        claims = verifier.verify(bound)
        check_binding(claims["cnf"], identity)
        return claims["sub"]

    def mtls_authn() -> object:
        return mtls_jwt.authenticate(bound_request, certificate=identity).subject

    for case in (key_and_jwt_floor, key_and_jwt_authn, mtls_floor, mtls_authn):
        if case() != "alice":  # pragma: no cover - smoke check
            raise AssertionError(f"{case.__name__} did not authenticate alice")
    return [
        Group(
            name="authn: API key + JWT (ES256)",
            floor="floor",
            cases={"floor": key_and_jwt_floor, "api_key_and_jwt": key_and_jwt_authn},
            note="KeyManager.verify + JWTVerifier.verify + owner comparison, called directly",
        ),
        Group(
            name="authn: mTLS + JWT (ES256, certificate-bound)",
            floor="floor",
            cases={"floor": mtls_floor, "mtls_and_jwt": mtls_authn},
            note="JWTVerifier.verify + check_binding on the verified identity, called directly",
        ),
    ]
