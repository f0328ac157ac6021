"""A protected API's check of an RFC 9068 access token, against one ``JWTVerifier.verify``.

The reference ("floor") is :meth:`~authcore.jose.JWTVerifier.verify` of the same ES256 token
alone, configured as the resource server configures it (``typ: at+jwt``, issuer, audience,
the RFC 9068 claims required): what the request check costs beyond verifying the token.
:meth:`~authcore.oauth.resource.ResourceServer.authenticate` adds reading the
``Authorization`` header of a request and building the token information; with DPoP it also
verifies the proof (a second signature, ES256), its claims, ``ath``, ``cnf.jkt`` and the
``jti`` replay check in a memory store.  Goals: 0.9 for Bearer, 0.45 for DPoP.

Authlib's ``ResourceProtector`` with its RFC 9068 ``JWTBearerTokenValidator`` does the Bearer
work on the same token (its key imported once, as for every library here); Authlib has no
DPoP support, so the DPoP group has no peer.  DPoP proofs are made before timing (a pool of
4,096, a fresh replay store each time the pool comes round again) and checked at a fixed
time, so making proofs is not counted.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Final

from authcore._bench import Group
from authcore.clock import FixedClock, utc_now
from authcore.http import Request
from authcore.jose import JWK, JWTVerifier, jwt
from authcore.oauth.dpop import DPoPKey
from authcore.oauth.resource import ResourceServer
from authcore.stores.memory import MemoryOneTimeStore

NAME = "resource"

ISSUER: Final = "https://as.example"
API: Final = "https://api.example/photos"
_POOL: Final = 4096
_REFERENCE: Final = "JWTVerifier.verify (token alone)"


def _token(key: JWK, now: int, cnf: dict[str, str] | None = None) -> str:
    # Valid for a day from now: peers read the system clock.
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "alice",
        "aud": API,
        "client_id": "photos-app",
        "scope": "photos.read",
        "iat": now,
        "exp": now + 86400,
        "jti": "token-1",
    }
    if cnf is not None:
        claims["cnf"] = cnf
    return jwt.encode(claims, key, headers={"typ": "at+jwt"})


def _authlib_bearer(public: JWK, token: str) -> Any:  # noqa: ANN401 - an untyped peer
    """Authlib's resource protector call for ``token``, or ``None`` when not installed."""
    if importlib.util.find_spec("authlib") is None:
        return None
    # Optional peer, imported only when installed.
    from authlib.oauth2 import ResourceProtector  # noqa: PLC0415
    from authlib.oauth2.rfc6749.requests import OAuth2Request  # noqa: PLC0415
    from authlib.oauth2.rfc9068 import JWTBearerTokenValidator  # noqa: PLC0415
    from joserfc.jwk import KeySet  # noqa: PLC0415 - Authlib 1.9 verifies with joserfc

    key_set = KeySet.import_key_set({"keys": [public.to_dict()]})

    class Validator(JWTBearerTokenValidator):  # type: ignore[misc]  # untyped peer
        def get_jwks(self) -> Any:  # noqa: ANN401 - the peer's interface
            return key_set

    protector = ResourceProtector()
    protector.register_token_validator(Validator(issuer=ISSUER, resource_server=API))
    request = OAuth2Request("GET", API, headers={"Authorization": "Bearer " + token})

    def call() -> object:
        return protector.validate_request(["photos.read"], request)["sub"]

    return call


def _smoke(*groups: dict[str, Any]) -> None:
    for cases in groups:
        for name, case in cases.items():
            if case() != "alice":  # pragma: no cover - smoke check
                raise AssertionError(f"{name} did not authenticate alice")


def groups(quick: bool) -> list[Group]:  # noqa: FBT001 - suite protocol
    """Bearer and DPoP-bound JWT access tokens at a resource server."""
    del quick  # one token per call: nothing to scale down
    signing = JWK.generate("ES256", kid="as-1")
    public = signing.public()
    now = utc_now()
    clock = FixedClock(now)  # proofs are made before timing, at this instant
    issued = int(now.timestamp())
    verifier = JWTVerifier(
        public,
        algorithms=["ES256"],
        issuer=ISSUER,
        audience=API,
        typ="at+jwt",
        required=("exp", "iat", "jti", "sub", "client_id"),
        clock=clock,
    )
    bearer_token = _token(signing, issued)
    bearer_request = Request(
        method="GET", url=API, headers={"Authorization": "Bearer " + bearer_token}
    )
    bearer_rs = ResourceServer(
        resource=API,
        issuer=ISSUER,
        keys=public,
        algorithms=["ES256"],
        scopes=["photos.read"],
        clock=clock,
    )

    dpop_key = DPoPKey.generate("ES256")
    dpop_token = _token(signing, issued, {"jkt": dpop_key.thumbprint})
    requests = [
        Request(
            method="GET",
            url=API,
            headers={
                "Authorization": "DPoP " + dpop_token,
                "DPoP": dpop_key.proof("GET", API, access_token=dpop_token, now=now),
            },
        )
        for _ in range(_POOL)
    ]
    state: dict[str, Any] = {"next": 0}

    def dpop_server() -> ResourceServer:
        return ResourceServer(
            resource=API,
            issuer=ISSUER,
            keys=public,
            algorithms=["ES256"],
            scopes=["photos.read"],
            dpop_replay=MemoryOneTimeStore(),
            clock=clock,
        )

    state["rs"] = dpop_server()

    def reference_bearer() -> object:
        return verifier.verify(bearer_token)["sub"]

    def reference_dpop() -> object:
        return verifier.verify(dpop_token)["sub"]

    def bearer() -> object:
        return bearer_rs.authenticate(bearer_request).subject

    def dpop() -> object:
        index = state["next"]
        if index == _POOL:
            state["rs"], index = dpop_server(), 0
        state["next"] = index + 1
        return state["rs"].authenticate(requests[index]).subject

    bearer_cases: dict[str, Any] = {_REFERENCE: reference_bearer, "ResourceServer": bearer}
    peer = _authlib_bearer(public, bearer_token)
    if peer is not None:
        bearer_cases["Authlib ResourceProtector (RFC 9068)"] = peer
    dpop_cases: dict[str, Any] = {_REFERENCE: reference_dpop, "ResourceServer (DPoP)": dpop}
    _smoke(bearer_cases, dpop_cases)
    return [
        Group(
            name="Resource server: Bearer JWT access token (ES256)",
            floor=_REFERENCE,
            reference=True,
            cases=bearer_cases,
            note="JWTVerifier.verify of the same token alone (goal 0.9)",
        ),
        Group(
            name="Resource server: DPoP-bound JWT access token (ES256 + ES256 proof)",
            floor=_REFERENCE,
            reference=True,
            cases=dpop_cases,
            note="JWTVerifier.verify of the token alone; DPoP adds a second signature (goal 0.45)",
        ),
    ]
