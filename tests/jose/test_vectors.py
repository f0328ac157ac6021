"""Conformance: Wycheproof JOSE/ECDSA/EdDSA files, the RFC 7520 cookbook, RFC appendix examples."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

import pytest

from authcore._encoding import b64url_decode
from authcore.errors import AuthcoreError, ConfigurationError, InvalidKeyError, VerificationError
from authcore.jose import JWK, SIGNATURE_ALGORITHMS, KeySet, jws
from authcore.jose._jwk import key_signer, key_verifier
from tests.conftest import vector_file

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.vectors

ALL_ALGORITHMS: Final = sorted(SIGNATURE_ALGORITHMS)

# The one skip table: (file, tcId) -> why a strict, correct implementation disagrees with the
# label.  Only the cases listed in shared/vectors/README.md appear here.
KNOWN_BAD: Final[dict[tuple[str, int], str]] = {
    ("json_web_signature_test.json", 367): (
        "same token bytes as tcId 357 (labelled valid) but labelled invalid; C2SP/wycheproof#236"
    ),
    ("json_web_signature_test.json", 370): (
        "same token bytes as tcId 357 (labelled valid) but labelled invalid; C2SP/wycheproof#236"
    ),
    ("json_web_signature_test.json", 372): (
        "labelled valid, but the MAC over the literal signing input (with '?') does not match"
    ),
    ("json_web_signature_test.json", 373): (
        "labelled valid, but the MAC over the literal signing input (with '?') does not match"
    ),
    ("json_web_signature_test.json", 346): (
        "labelled valid although the JWK is bound to PS256 and the header says PS384; keys are "
        "bound to their alg here"
    ),
    ("json_web_signature_test.json", 347): (
        "labelled valid although the JWK is bound to ES521 (not even a JWS alg) and the header "
        "says ES512; keys are bound to their alg here"
    ),
    ("json_web_signature_test.json", 350): (
        "labelled valid although the JWK's alg (PS256) differs from the header's (PS384)"
    ),
    ("json_web_signature_test.json", 351): (
        "labelled valid although the JWK's alg (ES521) differs from the header's (ES512)"
    ),
}


def _load(*parts: str) -> Any:
    path: Path = vector_file(*parts)
    return json.loads(path.read_text(encoding="utf-8"))


def _keys_of(group: dict[str, Any]) -> KeySet:
    """The verification keys of a Wycheproof JOSE group (public if given, else private)."""
    material = group.get("public") or group["private"]
    if "keys" in material:
        return KeySet.from_dict(material)
    return KeySet([JWK.from_dict(material)])


def _cases(name: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    data = _load("wycheproof", name)
    return [(group, case) for group in data["testGroups"] for case in group["tests"]]


def _run_jose_case(group: dict[str, Any], case: dict[str, Any]) -> bool:
    """Return True if the token verified; False if key import or verification refused it."""
    try:
        keys = _keys_of(group)
    except InvalidKeyError:
        return False
    try:
        jws.verify(case["jws"], keys, algorithms=ALL_ALGORITHMS)
    except VerificationError:
        return False
    return True


def _label(case: dict[str, Any]) -> str:
    return f"{case['tcId']}-{case['comment']}"


@pytest.mark.parametrize("name", ["json_web_signature_test.json", "json_web_key_test.json"])
def test_wycheproof_jose(name: str) -> None:
    """Every Wycheproof JWS/JWK case gets its labelled result, except the documented skips."""
    cases = _cases(name)
    expected_count = {"json_web_signature_test.json": 401, "json_web_key_test.json": 26}[name]
    assert len(cases) == expected_count
    wrong: list[str] = []
    skipped = 0
    for group, case in cases:
        if (name, case["tcId"]) in KNOWN_BAD:
            skipped += 1
            continue
        accepted = _run_jose_case(group, case)
        if accepted != (case["result"] == "valid"):
            wrong.append(_label(case))
    assert wrong == []
    assert skipped == sum(1 for (file, _) in KNOWN_BAD if file == name)


def test_known_bad_cases_behave_as_documented() -> None:
    """The skipped JWS cases fail or pass exactly as the skip reasons say (the table is honest)."""
    by_id = {case["tcId"]: (g, case) for g, case in _cases("json_web_signature_test.json")}
    # 357 / 367 / 370: identical bytes, accepted all three times.
    assert by_id[357][1]["jws"] == by_id[367][1]["jws"] == by_id[370][1]["jws"]
    for tc in (357, 367, 370):
        assert _run_jose_case(*by_id[tc])
    # 372, 373, 346, 347, 350, 351: refused.
    for tc in (372, 373, 346, 347, 350, 351):
        assert not _run_jose_case(*by_id[tc])


P1363_FILES: Final = {
    "ecdsa_secp256r1_sha256_p1363_test.json": "ES256",
    "ecdsa_secp384r1_sha384_p1363_test.json": "ES384",
    "ecdsa_secp521r1_sha512_p1363_test.json": "ES512",
    "ecdsa_secp256k1_sha256_p1363_test.json": "ES256K",
    "ed25519_test.json": "Ed25519",
    "ed448_test.json": "Ed448",
}


@pytest.mark.parametrize(("name", "alg"), sorted(P1363_FILES.items()))
def test_wycheproof_signatures_through_jwk(name: str, alg: str) -> None:
    """ECDSA-P1363 and EdDSA cases verify through the JWK import of each group's publicKeyJwk."""
    data = _load("wycheproof", name)
    wrong: list[str] = []
    total = 0
    for group in data["testGroups"]:
        # A few ECDSA groups carry no publicKeyJwk (their keys are the same points given in
        # DER); they go through the DER import instead so that every case still runs.
        if "publicKeyJwk" in group:
            key = JWK.from_dict(group["publicKeyJwk"])
        else:
            key = JWK.from_pem(bytes.fromhex(group["publicKeyDer"]))
        verifier = key_verifier(key, alg)
        assert verifier is not None
        for case in group["tests"]:
            total += 1
            try:
                verifier(bytes.fromhex(case["msg"]), bytes.fromhex(case["sig"]))
            except VerificationError:
                accepted = False
            else:
                accepted = True
            # "acceptable" cases (none in these files today) would be either way.
            if case["result"] != "acceptable" and accepted != (case["result"] == "valid"):
                wrong.append(_label(case))
    assert total == data["numberOfTests"]
    assert wrong == []


COOKBOOK_JWS: Final = [
    "4_1.rsa_v15_signature.json",
    "4_2.rsa-pss_signature.json",
    "4_3.ecdsa_signature.json",
    "4_4.hmac-sha2_integrity_protection.json",
    "4_5.signature_with_detached_content.json",
    "4_6.protecting_specific_header_fields.json",
    "4_7.protecting_content_only.json",
    "4_8.multiple_signatures.json",
]


def _cookbook_keys(spec: dict[str, Any]) -> list[JWK]:
    raw = spec["input"]["key"]
    items = raw if isinstance(raw, list) else [raw]
    return [JWK.from_dict(item) for item in items]


@pytest.mark.parametrize("name", COOKBOOK_JWS)
def test_rfc7520_cookbook_signatures(name: str) -> None:
    """Every serialized output of the RFC 7520 section 4 examples verifies to the payload."""
    spec = _load("rfc7520-cookbook", "jws", name)
    payload = spec["input"]["payload"].encode("utf-8")
    keys = _cookbook_keys(spec)
    verify_keys = [k if k.is_symmetric else k.public() for k in keys]
    algorithms = ["RS256", "PS384", "ES512", "HS256"]
    detached = payload if "detached" in name else None
    outputs = spec["output"]
    checked = 0
    if "compact" in outputs:
        for key in verify_keys:
            try:
                result = jws.verify(
                    outputs["compact"], key, algorithms=algorithms, detached_payload=detached
                )
            except VerificationError:
                continue
            assert result.payload == payload
            checked += 1
        assert checked == 1
    for form in ("json", "json_flat"):
        if form in outputs:
            for key in verify_keys:
                try:
                    result = jws.verify_json(
                        outputs[form], key, algorithms=algorithms, detached_payload=detached
                    )
                except VerificationError:
                    continue
                assert result.payload == payload
                assert result.key == key
                checked += 1
    assert checked >= len(verify_keys) if "multiple" in name else checked >= 1


@pytest.mark.parametrize("name", COOKBOOK_JWS)
def test_rfc7520_cookbook_reproducible_signatures(name: str) -> None:
    """Deterministic algorithms reproduce the cookbook's signature over its signing input."""
    spec = _load("rfc7520-cookbook", "jws", name)
    steps = spec["signing"] if isinstance(spec["signing"], list) else [spec["signing"]]
    keys = _cookbook_keys(spec)
    for step in steps:
        header = {**step.get("protected", {}), **step.get("unprotected", {})}
        alg = header["alg"]
        if alg.startswith(("PS", "ES")):  # randomized: verified in the test above
            continue
        key = next(k for k in keys if key_verifier(k, alg) is not None)
        _, signer = key_signer(key, alg)
        assert signer(step["sig-input"].encode("utf-8")) == b64url_decode(step["sig"])


def test_rfc7797_compact_and_json() -> None:
    """The RFC 7797 b64=false example verifies in compact, general and flattened forms."""
    spec = _load("rfc7520-cookbook", "rfc7797", "hmac-sha2_b64_false.json")
    key = JWK.from_dict(spec["input"]["key"])
    payload = spec["input"]["payload"].encode("utf-8")
    result = jws.verify(spec["output"]["compact"], key, algorithms=["HS256"])
    assert result.payload == payload
    assert result.header["b64"] is False
    for form in ("json", "json_flat"):
        assert jws.verify_json(spec["output"][form], key, algorithms=["HS256"]).payload == payload
    token = jws.sign(payload, key, headers={"b64": False})
    assert token == spec["output"]["compact"]


def test_rfc7797_example_without_crit_is_refused() -> None:
    """The cookbook's '4.2' file omits crit from the encoded header, so b64=false is refused.

    Its protected_b64u decodes to {"alg":"HS256","b64":false}: RFC 7797 section 6 requires
    "b64" in "crit", so this is the strict outcome, not a skip.
    """
    spec = _load("rfc7520-cookbook", "rfc7797", "4.2.hmac-sha2_b64_false.json")
    key = JWK.from_dict(spec["input"]["key"])
    assert json.loads(b64url_decode(spec["signing"]["protected_b64u"])) == {
        "alg": "HS256",
        "b64": False,
    }
    for form in ("json", "json_flat"):
        with pytest.raises(VerificationError, match="crit"):
            jws.verify_json(spec["output"][form], key, algorithms=["HS256"])


def test_rfc7520_cookbook_keys() -> None:
    """The RFC 7520 section 3 keys import, round-trip and keep their private/public nature."""
    for name in (
        "3_1.ec_public_key.json",
        "3_2.ec_private_key.json",
        "3_3.rsa_public_key.json",
        "3_4.rsa_private_key.json",
        "3_5.symmetric_key_mac_computation.json",
        "3_6.symmetric_key_encryption.json",
    ):
        spec = _load("rfc7520-cookbook", "jwk", name)
        members = spec
        key = JWK.from_dict(members)
        exported = key.to_dict(private=True)
        assert JWK.from_dict(exported) == key
        assert key.is_private == ("d" in members or members["kty"] == "oct")


def test_rfc8037_ed25519_cookbook() -> None:
    """The CFRG Ed25519 cookbook example verifies and reproduces (EdDSA is deterministic)."""
    spec = _load("rfc7520-cookbook", "curve25519", "jws.json")
    key = JWK.from_dict(spec["input"]["key"])
    result = jws.verify(spec["output"]["compact"], key.public(), algorithms=["EdDSA"])
    assert result.payload == spec["input"]["payload"].encode("utf-8")
    assert jws.sign(result.payload, key, headers={"alg": "EdDSA"}) == spec["output"]["compact"]


def _appendix() -> dict[str, Any]:
    data: dict[str, Any] = _load("rfc-appendix", "rfc_appendix_examples.json")
    return data


@pytest.mark.parametrize("example", ["A.1", "A.2", "A.3", "A.4"])
def test_rfc7515_appendix_compact(example: str) -> None:
    """RFC 7515 A.1-A.4 verify with their keys (the alg named by the example)."""
    spec = _appendix()["rfc7515"][example]
    key = JWK.from_dict(spec["jwk"])
    verify_key = key if key.is_symmetric else key.public()
    result = jws.verify(spec["compact"], verify_key, algorithms=[spec["alg"]])
    if example == "A.4":  # RFC 7515 A.4 signs the bytes "Payload"
        assert result.payload == b"Payload"
    else:
        assert json.loads(result.payload)["iss"] == "joe"


def test_rfc7515_appendix_unsecured_and_crit_are_refused() -> None:
    """RFC 7515 A.5 (alg none) and the appendix E crit example are refused."""
    appendix = _appendix()["rfc7515"]
    key = JWK.from_dict(appendix["A.1"]["jwk"])
    for example in ("A.5", "E_negative_crit"):
        with pytest.raises(VerificationError):
            jws.verify(appendix[example]["compact"], key, algorithms=["HS256"])


def test_rfc7515_appendix_json() -> None:
    """RFC 7515 A.6 (general) and A.7 (flattened) verify; A.6 reports the key that verified."""
    appendix = _appendix()["rfc7515"]
    rsa = JWK.from_dict(appendix["A.2"]["jwk"]).public()
    ec = JWK.from_dict(appendix["A.3"]["jwk"]).public()
    general = appendix["A.6"]["json_general"]
    assert jws.verify_json(general, [ec], algorithms=["ES256"]).key == ec
    assert jws.verify_json(general, [rsa], algorithms=["RS256"]).key == rsa
    flat = appendix["A.7"]["json_flattened"]
    assert jws.verify_json(flat, ec, algorithms=["ES256"]).header["kid"] == flat["header"]["kid"]


def test_rfc7517_appendix_keys() -> None:
    """RFC 7517 A.1-A.3 key sets, B (x5c is ignored) and C.1 import."""
    appendix = _appendix()["rfc7517"]
    for example in ("A.1", "A.2", "A.3"):
        keys = KeySet.from_dict(appendix[example])
        assert len(keys) == len(appendix[example]["keys"])
    assert JWK.from_dict(appendix["B"]).kid == "1b94c"
    assert JWK.from_dict(appendix["C.1_private_key"]).is_private


def test_rfc7519_encrypted_examples_are_not_signatures() -> None:
    """RFC 7519 A.1/A.2 (JWE) handed to the JWS verifier are refused as malformed."""
    appendix = _appendix()["rfc7519"]
    key = JWK.generate("RS256")
    for example in ("A.1_encrypted_jwt", "A.2_nested_jwt"):
        with pytest.raises(VerificationError, match="JWE"):
            jws.verify(appendix[example]["compact"], key.public(), algorithms=["RS256"])


def test_rfc7638_and_rfc8037_thumbprints() -> None:
    """RFC 7638 section 3.1 and RFC 8037 A.3 thumbprints match."""
    appendix = _appendix()
    for spec in (
        appendix["rfc7638"]["3.1"],
        appendix["rfc7638"]["extra_ec_from_rfc7517_A.1"],
        appendix["rfc8037"]["A.3_thumbprint"],
    ):
        expected = spec.get("sha256_thumbprint") or spec.get("thumbprint")
        assert JWK.from_dict(spec["jwk"]).thumbprint() == expected


def test_rfc8037_appendix() -> None:
    """RFC 8037 A.1/A.2 keys match and A.4/A.5 reproduce the Ed25519 signature."""
    appendix = _appendix()["rfc8037"]
    private = JWK.from_dict(appendix["A.1_private"])
    assert private.public() == JWK.from_dict(appendix["A.2_public"])
    spec = appendix["A.4_A.5_ed25519_sign"]
    token = jws.sign(
        spec["payload_utf8"].encode(), JWK.from_dict(spec["jwk"]), headers=spec["protected"]
    )
    assert token == spec["compact"]


def test_rfc7797_appendix_regular() -> None:
    """RFC 7797 section 4.1 (the b64=true baseline) verifies."""
    spec = _appendix()["rfc7797"]["4.1_regular"]
    result = jws.verify(spec["compact"], JWK.from_dict(spec["jwk"]), algorithms=["HS256"])
    assert result.payload == spec["payload"].encode()


def test_vector_errors_are_typed() -> None:
    """Feeding every Wycheproof token to every verifier raises only authcore errors."""
    keys = JWK.generate("HS256")
    for _, case in _cases("json_web_signature_test.json"):
        try:
            jws.verify(case["jws"], keys, algorithms=ALL_ALGORITHMS)
        except ConfigurationError:  # pragma: no cover - would be a bug
            raise
        except AuthcoreError:
            pass
