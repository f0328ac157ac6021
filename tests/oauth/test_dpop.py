"""DPoP proofs (RFC 9449): the RFC examples, and one negative test per section 4.3 check."""

from __future__ import annotations

import datetime as dt
import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authcore._encoding import b64url_decode, b64url_encode, json_dumps, json_loads
from authcore.errors import (
    ConfigurationError,
    InvalidDPoPProof,
    MalformedRequest,
    StoreError,
    UnsupportedAlgorithm,
    UseDPoPNonce,
)
from authcore.http import Request
from authcore.jose import JWK, jws, jwt
from authcore.jose._jwk import key_signer
from authcore.oauth.dpop import (
    DPoPKey,
    HMACNonces,
    NonceSource,
    VerifiedProof,
    access_token_hash,
    normalize_htu,
    verify_proof,
)
from authcore.stores.memory import MemoryOneTimeStore

# RFC 9449 section 4.1 (Figure 3) and section 7.1 (Figure 12) example proofs; their key is the
# RFC's example key, whose RFC 7638 thumbprint section 6.1 gives.
RFC_KEY = {
    "kty": "EC",
    "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
    "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
    "crv": "P-256",
}
RFC_JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
RFC_TOKEN_PROOF = (
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0"
    "VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10"
    "NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoi"
    "UE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-"
    "GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
)
RFC_TOKEN_IAT = 1562262616
RFC_RESOURCE_PROOF = (
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0"
    "VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10"
    "NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoi"
    "R0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6"
    "MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9"
    "RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA"
)
RFC_RESOURCE_IAT = 1562262618
RFC_ACCESS_TOKEN = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
RFC_TOKEN_URL = "https://server.example.com/token"
RFC_RESOURCE_URL = "https://resource.example.org/protectedresource"

NOW = 1_700_000_000
URL = "https://rs.example/api"
KEY = DPoPKey.generate("ES256")
SECRET = b"n" * 32


def _verify(proof: str | list[str] | Request, **options: Any) -> VerifiedProof:
    options.setdefault("replay", MemoryOneTimeStore())
    options.setdefault("method", "GET")
    options.setdefault("url", URL)
    options.setdefault("now", NOW)
    return verify_proof(proof, **options)


def _forge(
    claims: dict[str, Any] | None = None,
    *,
    header: dict[str, Any] | None = None,
    key: JWK | None = None,
    drop: tuple[str, ...] = (),
) -> str:
    """A proof with chosen claims and header, signed by ``key`` (default: a fresh ES256 key)."""
    signing = key or JWK.generate("ES256")
    body: dict[str, Any] = {"jti": "j1", "htm": "GET", "htu": URL, "iat": NOW}
    body.update(claims or {})
    for name in drop:
        body.pop(name)
    head: dict[str, Any] = {"typ": "dpop+jwt", "jwk": signing.public().to_dict()}
    head.update(header or {})
    return jws.sign(json_dumps(body), signing, headers=head)


def _reason(excinfo: pytest.ExceptionInfo[InvalidDPoPProof]) -> str:
    return excinfo.value.reason


# ----------------------------------------------------------------------------- RFC examples


def test_rfc_key_thumbprint() -> None:
    """The RFC 9449 example key has the thumbprint the RFC gives for cnf.jkt."""
    assert JWK.from_dict(RFC_KEY).thumbprint() == RFC_JKT


def test_rfc_token_request_proof_verifies() -> None:
    """The section 4.1 example proof verifies at now = iat."""
    result = _verify(RFC_TOKEN_PROOF, method="POST", url=RFC_TOKEN_URL, now=RFC_TOKEN_IAT)
    assert result.jkt == RFC_JKT
    assert result.jti == "-BwC3ESc6acc2lTc"
    assert result.claims["htu"] == RFC_TOKEN_URL


def test_rfc_resource_proof_verifies_with_ath_and_jkt() -> None:
    """The section 7.1 example proof verifies with its access token and cnf.jkt."""
    result = _verify(
        RFC_RESOURCE_PROOF,
        url=RFC_RESOURCE_URL,
        now=RFC_RESOURCE_IAT,
        access_token=RFC_ACCESS_TOKEN,
        jkt=RFC_JKT,
    )
    assert result.claims["ath"] == access_token_hash(RFC_ACCESS_TOKEN)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"method": "PUT"}, "htm"),
        ({"url": "https://resource.example.org/other"}, "htu"),
        ({"access_token": RFC_ACCESS_TOKEN + "x"}, "ath"),
        ({"now": RFC_RESOURCE_IAT + 301}, "iat"),
        ({"now": RFC_RESOURCE_IAT - 301}, "iat"),
        ({"jkt": "x" * 43}, "cnf.jkt"),
    ],
)
def test_rfc_resource_proof_mutations_fail(change: dict[str, Any], reason: str) -> None:
    """Changing htm, htu, ath, the time or the bound key makes the RFC proof fail."""
    options: dict[str, Any] = {
        "url": RFC_RESOURCE_URL,
        "now": RFC_RESOURCE_IAT,
        "access_token": RFC_ACCESS_TOKEN,
        "jkt": RFC_JKT,
    }
    options.update(change)
    with pytest.raises(InvalidDPoPProof) as excinfo:
        _verify(RFC_RESOURCE_PROOF, **options)
    assert reason in _reason(excinfo)
    assert excinfo.value.description == "Invalid DPoP proof"  # the detail stays in reason


def test_rfc_proof_with_typ_jwt_fails() -> None:
    """The RFC proof with its header's typ changed to jwt is refused."""
    head, rest = RFC_TOKEN_PROOF.split(".", 1)
    header = json_loads(b64url_decode(head))
    header["typ"] = "jwt"
    forged = b64url_encode(json_dumps(header)) + "." + rest
    with pytest.raises(InvalidDPoPProof, match="typ"):
        _verify(forged, method="POST", url=RFC_TOKEN_URL, now=RFC_TOKEN_IAT)


def test_rfc_proof_replay_fails() -> None:
    """The same RFC proof presented twice to one store is a replay."""
    store = MemoryOneTimeStore()
    options: dict[str, Any] = {
        "method": "POST",
        "url": RFC_TOKEN_URL,
        "now": RFC_TOKEN_IAT,
        "replay": store,
    }
    _verify(RFC_TOKEN_PROOF, **options)
    with pytest.raises(InvalidDPoPProof, match="replay"):
        _verify(RFC_TOKEN_PROOF, **options)


# ----------------------------------------------------------------------------- DPoPKey


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_generated_key_round_trip(alg: str) -> None:
    """A generated key's proof verifies and names the key's thumbprint."""
    key = DPoPKey.generate(alg)
    proof = key.proof("get", URL + "?q=1#frag", now=NOW)
    result = _verify(proof, algorithms=[alg])
    assert result.jkt == key.thumbprint
    assert result.key == key.public_jwk()
    assert key.alg == alg


def test_proof_contents() -> None:
    """A proof has typ dpop+jwt, the public jwk only, and htm/htu/iat/jti/ath/nonce."""
    proof = KEY.proof("post", URL + "?q=1", access_token="tok", nonce="n1", now=NOW, jti="id")
    parsed = jwt.decode_unverified(proof)
    assert parsed.header["typ"] == "dpop+jwt"
    assert set(parsed.header["jwk"]) == {"kty", "crv", "x", "y"}
    assert parsed.claims == {
        "jti": "id",
        "htm": "POST",
        "htu": URL,
        "iat": NOW,
        "ath": access_token_hash("tok"),
        "nonce": "n1",
    }


def test_from_jwk_drops_metadata_and_keeps_thumbprint() -> None:
    """A loaded key signs without kid and has the JWK's own thumbprint."""
    base = JWK.generate("EdDSA", kid="k1")
    key = DPoPKey.from_jwk(base)
    assert key.thumbprint == base.thumbprint()
    assert "kid" not in jwt.decode_unverified(key.proof("GET", URL, now=NOW)).header


@pytest.mark.parametrize(
    "build",
    [
        lambda: JWK.generate("ES256").public(),
        lambda: JWK.generate("ES384"),
        lambda: JWK.generate("EdDSA", crv="Ed448"),
        lambda: JWK.from_secret(b"s" * 32, alg="HS256"),
        lambda: "not a key",
    ],
)
def test_from_jwk_refuses_unfit_keys(build: Any) -> None:
    """Public, symmetric, other-curve keys and non-keys are refused."""
    with pytest.raises(ConfigurationError):
        DPoPKey.from_jwk(build())


def test_generate_refuses_other_algorithms() -> None:
    """Only ES256 and EdDSA keys are generated."""
    with pytest.raises(UnsupportedAlgorithm):
        DPoPKey.generate("RS256")


def test_key_is_immutable_and_unpicklable() -> None:
    """A DPoPKey cannot be built directly, changed or pickled, and repr shows no secret."""
    with pytest.raises(TypeError):
        DPoPKey()
    with pytest.raises(AttributeError):
        KEY._key = None  # type: ignore[assignment]
    with pytest.raises(TypeError):
        pickle.dumps(KEY)
    assert KEY.thumbprint in repr(KEY)


@pytest.mark.parametrize(
    "options",
    [
        {"method": ""},
        {"url": "ftp://x/y"},
        {"url": "/relative"},
        {"access_token": "tök"},
        {"nonce": ""},
        {"jti": ""},
    ],
)
def test_proof_refuses_bad_arguments(options: dict[str, Any]) -> None:
    """Unusable proof arguments are configuration errors."""
    args: dict[str, Any] = {"method": "GET", "url": URL, "now": NOW}
    args.update(options)
    with pytest.raises(ConfigurationError):
        KEY.proof(args.pop("method"), args.pop("url"), **args)


# ----------------------------------------------------------------------------- section 4.3


def test_check_1_no_dpop_header() -> None:
    """A request without a DPoP header is refused."""
    with pytest.raises(InvalidDPoPProof, match="no DPoP header"):
        _verify(Request(method="GET", url=URL))


def test_check_1_two_dpop_headers() -> None:
    """Two DPoP header fields are refused, as are two values in one field."""
    proof = KEY.proof("GET", URL, now=NOW)
    request = Request(method="GET", url=URL, headers=[("DPoP", proof), ("dpop", proof)])
    with pytest.raises(InvalidDPoPProof, match="more than one"):
        _verify(request)
    with pytest.raises(InvalidDPoPProof, match="more than one"):
        _verify(proof + ", " + proof)


def test_check_1_request_source() -> None:
    """With a Request, its method, URL and DPoP header are used."""
    proof = KEY.proof("POST", URL, now=NOW)
    request = Request(method="post", url=URL + "?a=b", headers={"DPoP": proof})
    assert verify_proof(request, replay=MemoryOneTimeStore(), now=NOW).jkt == KEY.thumbprint


def test_size_cap_before_work() -> None:
    """A proof over max_size is refused before it is parsed."""
    with pytest.raises(InvalidDPoPProof, match="too large"):
        _verify("x" * 5000)
    with pytest.raises(InvalidDPoPProof, match="too large"):
        _verify(KEY.proof("GET", URL, now=NOW), max_size=100)


@pytest.mark.parametrize("value", ["", "abc", "a.b", "a.b.c.d.e", "e30.e30.", "%%.e30.AA"])
def test_check_2_not_a_jws(value: str) -> None:
    """A value that is not a compact JWS is refused."""
    with pytest.raises(InvalidDPoPProof):
        _verify(value)


@pytest.mark.parametrize("typ", [None, "jwt", "JWT", "at+jwt", "DPoP+JWT", "application/dpop+jwt"])
def test_check_4_typ(typ: str | None) -> None:
    """The typ header must be exactly dpop+jwt."""
    proof = _forge(header={"typ": typ} if typ is not None else {"typ": "x"})
    if typ is None:
        head, rest = proof.split(".", 1)
        header = json_loads(b64url_decode(head))
        del header["typ"]
        proof = b64url_encode(json_dumps(header)) + "." + rest
    with pytest.raises(InvalidDPoPProof, match="typ"):
        _verify(proof)


def test_check_5_alg_not_allowed() -> None:
    """An asymmetric alg outside the allow-list is refused."""
    proof = _forge(key=JWK.generate("ES384"))
    with pytest.raises(InvalidDPoPProof, match="alg"):
        _verify(proof)
    assert _verify(proof, algorithms=["ES384"]).jti == "j1"


def test_check_5_symmetric_and_none_refused() -> None:
    """HS256 and none are refused: a symmetric proof cannot verify, none is not an alg."""
    secret = JWK.from_secret(b"s" * 32, alg="HS256")
    token = jwt.encode(
        {"jti": "j", "htm": "GET", "htu": URL, "iat": NOW},
        secret,
        headers={"typ": "dpop+jwt", "jwk": secret.to_dict(private=True)},
    )
    with pytest.raises(InvalidDPoPProof, match="alg"):
        _verify(token)
    head, rest = KEY.proof("GET", URL, now=NOW).split(".", 1)
    header = json_loads(b64url_decode(head))
    header["alg"] = "none"
    with pytest.raises(InvalidDPoPProof, match="alg"):
        _verify(b64url_encode(json_dumps(header)) + "." + rest.rsplit(".", 1)[0] + ".")


@pytest.mark.parametrize("algorithms", [["HS256"], [], "ES256", ["nope"]])
def test_check_5_configuration_refuses_symmetric(algorithms: Any) -> None:
    """The allow-list itself must name asymmetric JWS algorithms."""
    with pytest.raises(ConfigurationError):
        _verify(KEY.proof("GET", URL, now=NOW), algorithms=algorithms)


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi", "oth", "k"])
def test_check_7_private_jwk_refused(member: str) -> None:
    """A jwk header with any private member is refused before it is loaded."""
    signing = JWK.generate("ES256")
    members = signing.to_dict(private=True)
    if member != "d":
        members[member] = "AAAA"
    with pytest.raises(InvalidDPoPProof, match="private"):
        _verify(_forge(header={"jwk": members}, key=signing))


def test_check_7_missing_or_unusable_jwk() -> None:
    """A missing jwk, one that is not an object, or one unfit for alg is refused."""
    signing = JWK.generate("ES256")
    for jwk_value in ("text", JWK.generate("EdDSA").public().to_dict(), {"kty": "EC"}):
        with pytest.raises(InvalidDPoPProof, match="jwk"):
            _verify(_forge(header={"jwk": jwk_value}, key=signing))


def test_check_6_signature_must_verify_with_jwk() -> None:
    """A proof signed by another key than its jwk header is refused."""
    other = JWK.generate("ES256")
    proof = _forge(header={"jwk": other.public().to_dict()})
    with pytest.raises(InvalidDPoPProof, match="signature"):
        _verify(proof)


def test_check_6_tampered_payload() -> None:
    """Changing the payload of a valid proof breaks its signature."""
    head, _, sig = KEY.proof("GET", URL, now=NOW).split(".")
    payload = b64url_encode(json_dumps({"jti": "z", "htm": "GET", "htu": URL, "iat": NOW}))
    with pytest.raises(InvalidDPoPProof, match="signature"):
        _verify(f"{head}.{payload}.{sig}")


def test_a_remembered_header_still_needs_the_signature_of_its_key() -> None:
    """The checked header and key are remembered per exact segment; every signature is checked.

    An attacker who copies a client's header (its jwk) onto their own payload and signs with
    another key is refused, before and after the header has been seen; the client's own
    proofs under the same header keep verifying.
    """
    first = KEY.proof("GET", URL, now=NOW)
    head = first.split(".")[0]
    assert _verify(first).jkt == KEY.thumbprint
    # The attacker's key signs exactly the signing input under the client's header.
    _, sign_as_attacker = key_signer(JWK.generate("ES256"), "ES256")
    body = b64url_encode(json_dumps({"jti": "evil", "htm": "GET", "htu": URL, "iat": NOW}))
    signature = sign_as_attacker(f"{head}.{body}".encode())
    forged = f"{head}.{body}.{b64url_encode(signature)}"
    for _ in range(2):
        with pytest.raises(InvalidDPoPProof, match="signature"):
            _verify(forged)
    second = KEY.proof("GET", URL, now=NOW)
    assert second.split(".")[0] == head  # one header for every proof of this key
    assert _verify(second).jti != _verify(first).jti


def test_a_header_accepted_under_one_allow_list_is_refused_under_another() -> None:
    """The remembered header is keyed by the allow-list too: ES384 accepted, then refused."""
    proof = _forge(key=JWK.generate("ES384"))
    assert _verify(proof, algorithms=["ES384"]).jti == "j1"
    with pytest.raises(InvalidDPoPProof, match="alg"):
        _verify(proof)
    with pytest.raises(InvalidDPoPProof, match="alg"):
        _verify(proof, algorithms=["ES256", "EdDSA"])


def test_a_refused_header_is_refused_every_time() -> None:
    """Refusals are never remembered as anything else: the same bad header fails again."""
    signing = JWK.generate("ES256")
    proof = _forge(header={"jwk": {"kty": "EC"}}, key=signing)
    for _ in range(3):
        with pytest.raises(InvalidDPoPProof, match="jwk"):
            _verify(proof)


@pytest.mark.parametrize("claim", ["jti", "htm", "htu", "iat"])
def test_check_3_required_claims(claim: str) -> None:
    """jti, htm, htu and iat must be present."""
    with pytest.raises(InvalidDPoPProof, match=claim):
        _verify(_forge(drop=(claim,)))


@pytest.mark.parametrize(
    "claims",
    [{"jti": 5}, {"jti": ""}, {"htm": ["GET"]}, {"iat": "1700000000"}, {"iat": True}],
)
def test_check_3_claim_types(claims: dict[str, Any]) -> None:
    """Claims of the wrong type are refused."""
    with pytest.raises(InvalidDPoPProof):
        _verify(_forge(claims))


def test_check_3_jti_length() -> None:
    """An over-long jti is refused."""
    with pytest.raises(InvalidDPoPProof, match="jti"):
        _verify(_forge({"jti": "j" * 300}))


def test_check_8_htm() -> None:
    """The htm claim must equal the (upper-cased) request method exactly."""
    with pytest.raises(InvalidDPoPProof, match="htm"):
        _verify(_forge({"htm": "POST"}))
    with pytest.raises(InvalidDPoPProof, match="htm"):
        _verify(_forge({"htm": "get"}))


@pytest.mark.parametrize(
    "htu",
    [
        "https://RS.Example/api",
        "HTTPS://rs.example:443/api",
        "https://rs.example/api?other=1",
        "https://rs.example/api#frag",
    ],
)
def test_check_9_htu_normalised_match(htu: str) -> None:
    """The htu claim matches after case, default port, query and fragment normalisation."""
    assert _verify(_forge({"htu": htu})).jti == "j1"


@pytest.mark.parametrize(
    "htu",
    [
        "https://rs.example/api/",
        "https://rs.example/API",
        "http://rs.example/api",
        "https://rs.example:8443/api",
        "https://other.example/api",
        "https://user@rs.example/api",
        "https://rs.example:99999/api",
        "urn:x:y",
    ],
)
def test_check_9_htu_mismatch(htu: str) -> None:
    """Another path, scheme, port, host, userinfo or a non-URL is refused."""
    with pytest.raises(InvalidDPoPProof, match="htu"):
        _verify(_forge({"htu": htu}))


def test_request_url_must_be_absolute() -> None:
    """A request URL that is not absolute http(s) is the host's input error."""
    with pytest.raises(MalformedRequest):
        _verify(KEY.proof("GET", URL, now=NOW), url="/api")
    with pytest.raises(ConfigurationError):
        verify_proof(KEY.proof("GET", URL, now=NOW), replay=MemoryOneTimeStore(), now=NOW)


def test_normalize_htu_examples() -> None:
    """normalize_htu lower-cases scheme and host, drops default ports and query."""
    assert normalize_htu("HTTP://A.Example:80?x") == "http://a.example/"
    assert normalize_htu("https://[::1]:8443/p?q") == "https://[::1]:8443/p"


def test_check_10_nonce_required() -> None:
    """With a nonce source, a missing nonce asks for one and carries it."""
    nonces = HMACNonces(SECRET)
    with pytest.raises(UseDPoPNonce) as excinfo:
        _verify(KEY.proof("GET", URL, now=NOW), nonces=nonces)
    assert excinfo.value.nonce == nonces.current(now=NOW)
    assert excinfo.value.error == "use_dpop_nonce"
    retry = KEY.proof("GET", URL, now=NOW, nonce=excinfo.value.nonce)
    result = _verify(retry, nonces=nonces)
    assert result.fresh_nonce is None


def test_check_10_stale_and_forged_nonces() -> None:
    """A nonce two rotations old, or with a forged MAC, is refused with a fresh one."""
    nonces = HMACNonces(SECRET, rotation=60)
    old = nonces.current(now=NOW - 120)
    forged = HMACNonces(b"m" * 32, rotation=60).current(now=NOW)
    for bad in (old, forged, "short", "!" * 32):
        with pytest.raises(UseDPoPNonce):
            _verify(KEY.proof("GET", URL, now=NOW, nonce=bad), nonces=nonces)


def test_check_10_previous_nonce_accepted_with_fresh_one() -> None:
    """The previous step's nonce still works and the result offers the current one."""
    nonces = HMACNonces(SECRET, rotation=60)
    previous = nonces.current(now=NOW - 60)
    result = _verify(KEY.proof("GET", URL, now=NOW, nonce=previous), nonces=nonces)
    assert result.fresh_nonce == nonces.current(now=NOW)
    assert isinstance(nonces, NonceSource)


def test_nonce_claim_must_be_a_string_without_source() -> None:
    """A non-string nonce claim is refused even when nonces are not required."""
    with pytest.raises(InvalidDPoPProof, match="nonce"):
        _verify(_forge({"nonce": 5}))


@pytest.mark.parametrize(("offset", "ok"), [(300, True), (-300, True), (301, False), (-301, False)])
def test_check_11_iat_window_both_directions(offset: int, ok: bool) -> None:
    """The iat claim may be at most the window away from now, in the past or the future."""
    proof = KEY.proof("GET", URL, now=NOW + offset)
    if ok:
        _verify(proof)
    else:
        with pytest.raises(InvalidDPoPProof, match="iat"):
            _verify(proof)


def test_check_11_custom_window_and_datetime_now() -> None:
    """The window is configurable and now may be an aware datetime."""
    proof = KEY.proof("GET", URL, now=NOW - 20)
    when = dt.datetime.fromtimestamp(NOW, dt.timezone.utc)
    with pytest.raises(InvalidDPoPProof, match="iat"):
        _verify(proof, iat_window=10, now=when)
    assert _verify(proof, iat_window=30, now=when).jti


def test_check_12_ath_required_with_access_token() -> None:
    """With an access token, a missing or wrong ath is refused."""
    with pytest.raises(InvalidDPoPProof, match="ath"):
        _verify(KEY.proof("GET", URL, now=NOW), access_token="tok")
    with pytest.raises(InvalidDPoPProof, match="ath"):
        _verify(KEY.proof("GET", URL, now=NOW, access_token="other"), access_token="tok")
    assert _verify(KEY.proof("GET", URL, now=NOW, access_token="tok"), access_token="tok").jti


def test_check_12_jkt_binding() -> None:
    """The proof key's thumbprint must equal the token's cnf.jkt."""
    proof = KEY.proof("GET", URL, now=NOW)
    with pytest.raises(InvalidDPoPProof, match=r"cnf\.jkt"):
        _verify(proof, jkt=DPoPKey.generate().thumbprint)
    assert _verify(proof, jkt=KEY.thumbprint).jkt == KEY.thumbprint


def test_replay_is_per_key_and_jti() -> None:
    """The same jti from two keys is accepted; from one key twice it is a replay."""
    store = MemoryOneTimeStore()
    first, second = DPoPKey.generate(), DPoPKey.generate()
    _verify(first.proof("GET", URL, now=NOW, jti="same"), replay=store)
    _verify(second.proof("GET", URL, now=NOW, jti="same"), replay=store)
    with pytest.raises(InvalidDPoPProof, match="replay"):
        _verify(first.proof("GET", URL, now=NOW + 1, jti="same"), replay=store)


def test_failed_proof_does_not_burn_jti() -> None:
    """A proof refused for another reason leaves its jti usable."""
    store = MemoryOneTimeStore()
    proof = KEY.proof("GET", URL, now=NOW, jti="keep")
    with pytest.raises(InvalidDPoPProof):
        _verify(proof, replay=store, method="POST")
    _verify(proof, replay=store)


def test_replay_store_failure_fails_closed() -> None:
    """A full replay store refuses the proof instead of skipping the check."""
    store = MemoryOneTimeStore(max_entries=1)
    _verify(KEY.proof("GET", URL, now=NOW), replay=store)
    with pytest.raises(StoreError):
        _verify(KEY.proof("GET", URL, now=NOW), replay=store)


@pytest.mark.parametrize(
    "options",
    [
        {"replay": None},
        {"replay": object()},
        {"nonces": object()},
        {"iat_window": 0},
        {"iat_window": True},
    ],
)
def test_options_checked(options: dict[str, Any]) -> None:
    """Missing replay store, a bad nonce source or window are configuration errors."""
    with pytest.raises(ConfigurationError):
        _verify(KEY.proof("GET", URL, now=NOW), **options)


def test_source_type_checked() -> None:
    """A source that is neither a Request nor header values is a configuration error."""
    with pytest.raises(ConfigurationError):
        _verify(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("secret", [b"short", "x" * 40])
def test_nonce_secret_checked(secret: Any) -> None:
    """Nonce secrets must be at least 32 bytes."""
    with pytest.raises(ConfigurationError):
        HMACNonces(secret)


@given(st.text(max_size=200))
def test_arbitrary_header_values_raise_typed_errors(value: str) -> None:
    """Any header text is refused with InvalidDPoPProof, never another exception."""
    with pytest.raises(InvalidDPoPProof):
        _verify(value)
