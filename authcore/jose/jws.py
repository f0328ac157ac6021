"""JSON Web Signature: compact and JSON serializations (RFC 7515), unencoded payloads (RFC 7797).

:func:`sign` / :func:`verify` handle the compact form; :func:`sign_json` / :func:`verify_json` the
general and flattened JSON forms (RFC 7515 section 7.2), with one or several signatures.  The
``b64: false`` header of RFC 7797 is accepted only when listed in a protected ``crit``.

What :func:`verify` checks, in this order: the size cap (before any other work), the structure
(three segments; a five-segment JWE is refused as such), strict base64url, strict JSON (duplicate
member names refused, nesting limited), the protected header (``alg`` present, not ``none`` in
any casing, in the caller's ``algorithms``; no ``enc``; ``crit`` non-empty, protected, and listing
only understood extensions that are present), the key (found by ``kid`` in the caller's keys,
usable for ``alg`` by type, size, binding, ``use`` and ``key_ops``) and the signature (exact
length, ECDSA ``r`` and ``s`` in range).

What it does **not** check: anything about the payload's meaning (use :mod:`authcore.jose.jwt`
for claims); header ``jwk``, ``jku``, ``x5u``, ``x5c`` and ``x5t`` are ignored, never used to find
or fetch a key; ``typ`` and ``cty`` are returned, not enforced.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from authcore._encoding import b64url_decode, b64url_encode, json_dumps
from authcore.errors import (
    AlgorithmNotAllowed,
    ConfigurationError,
    EncodeError,
    InvalidSignature,
    KeyNotFound,
    MalformedToken,
    UnsupportedAlgorithm,
    VerificationError,
)
from authcore.jose._jwa import SIGNATURE_ALGORITHMS, Verifier
from authcore.jose._jwk import JWK, KeyResolver, KeySet
from authcore.jose._parsing import as_ascii, json_object, parse_protected

__all__ = [
    "MAX_TOKEN_SIZE",
    "UNDERSTOOD_CRITICAL",
    "VerifiedJWS",
    "sign",
    "sign_json",
    "verify",
    "verify_json",
]

MAX_TOKEN_SIZE: Final = 16 * 1024
"""Default cap on a token's length in characters, applied before any other work."""

UNDERSTOOD_CRITICAL: Final = frozenset({"b64"})
"""The ``crit`` extensions this implementation understands (RFC 7797 ``b64``)."""

_REGISTERED_HEADERS: Final = frozenset(
    {"alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit"}
)
_STRING_HEADERS: Final = ("kid", "typ", "cty")


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedJWS:
    """The result of a successful verification.

    Attributes:
        payload: The verified payload bytes.
        header: The JOSE header of the signature that verified (protected and unprotected
            members merged).
        key: The key that verified it.

    .. versionadded:: 0.1.0
    """

    payload: bytes
    header: Mapping[str, Any]
    key: JWK


# ----------------------------------------------------------------------------- shared helpers


def _normalize_algorithms(algorithms: object) -> frozenset[str]:
    """Check the caller's ``algorithms`` list.

    Raises:
        ConfigurationError: If it is missing, a bare string, empty, or names ``none``.
        UnsupportedAlgorithm: If it names an unknown algorithm.
    """
    if isinstance(algorithms, (str, bytes)) or not isinstance(algorithms, Iterable):
        raise ConfigurationError("algorithms must be a list of algorithm names, e.g. ['ES256']")
    names = frozenset(algorithms)
    if not names:
        raise ConfigurationError("algorithms is empty: name the algorithms you accept")
    for name in names:
        if not isinstance(name, str):
            raise ConfigurationError("algorithms must contain strings")
        if name.lower() == "none":
            raise UnsupportedAlgorithm("'none' is never accepted")
        if name not in SIGNATURE_ALGORITHMS:
            raise UnsupportedAlgorithm(f"{name[:20]!r} is not a supported JWS algorithm")
    return names


def _as_resolver(keys: object) -> KeyResolver:
    """Accept a :class:`JWK`, an iterable of them, a :class:`KeySet` or any :class:`KeyResolver`.

    Raises:
        ConfigurationError: For anything else.
    """
    if isinstance(keys, JWK):
        return KeySet([keys])
    if isinstance(keys, KeyResolver) and not isinstance(keys, (Mapping, str, bytes)):
        return keys
    if isinstance(keys, (list, tuple)):
        return KeySet(keys)
    raise ConfigurationError(
        f"keys must be a JWK, a KeySet, a list of JWK or a key resolver, not {type(keys).__name__}"
    )


def _select_keys(resolver: KeyResolver, kid: str | None, alg: str) -> list[tuple[JWK, Verifier]]:
    """Return the keys that may verify a signature with ``alg`` and ``kid``.

    A ``kid`` selects the key with exactly that id; when no key has it, only keys without a
    ``kid`` are candidates.  Without a ``kid``, every key usable for ``alg`` is.

    Raises:
        KeyNotFound: If no key qualifies.
    """
    if kid is not None:
        key = resolver.get(kid)
        if key is not None:
            _check_resolved(key)
            verifier = key.verifier(alg)
            if verifier is None:
                raise KeyNotFound(f"the key named by kid cannot verify {alg}")
            return [(key, verifier)]
    found: list[tuple[JWK, Verifier]] = []
    for key in resolver:
        _check_resolved(key)
        if kid is not None and key.kid is not None:
            continue
        verifier = key.verifier(alg)
        if verifier is not None:
            found.append((key, verifier))
    if not found:
        raise KeyNotFound("no key for this kid" if kid is not None else f"no key for {alg}")
    return found


def _check_resolved(key: object) -> None:
    if not isinstance(key, JWK):
        raise ConfigurationError(f"the key resolver returned {type(key).__name__}, not a JWK")


def _check_header(
    header: object, *, allowed: Collection[str], protected: Mapping[str, Any] | None = None
) -> tuple[str, bool]:
    """Validate a JOSE header; return ``(alg, b64)``.

    Args:
        header: The merged header (protected and unprotected members).
        allowed: The caller's algorithms.
        protected: The protected part, when the header has an unprotected part (JSON
            serialization); ``None`` means the whole header is protected.

    Raises:
        MalformedToken: On a structural problem (not an object, missing ``alg``, a JWE header,
            a bad ``crit`` or ``b64``, wrongly typed members).
        AlgorithmNotAllowed: If ``alg`` is ``none`` or not in ``allowed``.
    """
    if not isinstance(header, dict):
        raise MalformedToken("JOSE header is not a JSON object")
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise MalformedToken("JOSE header has no string 'alg'")
    if "enc" in header:
        raise MalformedToken("JOSE header has 'enc': this is a JWE, not a JWS")
    if alg.lower() == "none":
        raise AlgorithmNotAllowed("alg 'none' is never accepted")
    if alg not in allowed:
        raise AlgorithmNotAllowed(f"alg {alg[:20]!r} is not in the allowed algorithms")
    for name in _STRING_HEADERS:
        if name in header and not isinstance(header[name], str):
            raise MalformedToken(f"header {name!r} must be a string")
    prot = header if protected is None else protected
    if "crit" in header:
        _check_crit(prot)
    return alg, _check_b64(header, prot) if "b64" in header else True


def _check_crit(prot: Mapping[str, Any]) -> None:
    # RFC 7515 section 4.1.11: protected only, non-empty, no registered names, all understood
    # and present.
    if "crit" not in prot:
        raise MalformedToken("'crit' must be in the protected header")
    crit = prot["crit"]
    if not isinstance(crit, list) or not crit:
        raise MalformedToken("'crit' must be a non-empty array")
    if not all(isinstance(c, str) for c in crit) or len(set(crit)) != len(crit):
        raise MalformedToken("'crit' must list distinct strings")
    for name in crit:
        if name in _REGISTERED_HEADERS:
            raise MalformedToken(f"'crit' lists the registered header {name!r}")
        if name not in UNDERSTOOD_CRITICAL:
            raise MalformedToken(f"'crit' lists an unsupported extension {name[:40]!r}")
        if name not in prot:
            raise MalformedToken(f"'crit' lists {name!r} but the protected header lacks it")


def _check_b64(header: Mapping[str, Any], prot: Mapping[str, Any]) -> bool:
    # RFC 7797 sections 3 and 6: protected, boolean, and listed in crit when false.
    value = header["b64"]
    if "b64" not in prot:
        raise MalformedToken("'b64' must be in the protected header")
    if not isinstance(value, bool):
        raise MalformedToken("'b64' must be a boolean")
    if not value and "b64" not in prot.get("crit", ()):
        raise MalformedToken("'b64': false must be listed in 'crit' (RFC 7797 section 6)")
    return value


def _split_compact(raw: bytes) -> tuple[bytes, bytes, bytes]:
    """Split ``header.payload.signature``; refuse other shapes (a JWE in particular)."""
    dots = raw.count(b".")
    if dots != 2:  # noqa: PLR2004 - three segments
        if dots == 4:  # noqa: PLR2004
            raise MalformedToken("five segments: a JWE is not accepted where a JWS is expected")
        raise MalformedToken(f"a compact JWS has 3 segments, not {dots + 1}")
    head, payload, signature = raw.split(b".")
    return head, payload, signature


def _verify_with(
    candidates: Sequence[tuple[JWK, Verifier]], signing_input: bytes, signature: bytes
) -> JWK:
    for key, verifier in candidates:
        try:
            verifier(signing_input, signature)
        except InvalidSignature:
            continue
        return key
    raise InvalidSignature("signature does not verify with any candidate key")


# ----------------------------------------------------------------------------- compact


def verify(
    token: str | bytes,
    keys: JWK | KeySet | KeyResolver | Sequence[JWK],
    *,
    algorithms: Collection[str],
    detached_payload: bytes | None = None,
    max_size: int = MAX_TOKEN_SIZE,
) -> VerifiedJWS:
    """Verify a compact JWS.

    Args:
        token: The compact serialization.
        keys: The verification key(s).
        algorithms: The accepted ``alg`` values (required, never ``none``).
        detached_payload: The payload of a detached JWS (RFC 7515 appendix F), whose payload
            segment must then be empty.
        max_size: The size cap, checked before anything else.

    Returns:
        The payload, header and the key that verified.

    Raises:
        TokenTooLarge: Over ``max_size``.
        MalformedToken: Bad structure or header.
        DecodeError: Bad base64url or JSON.
        AlgorithmNotAllowed: ``alg`` not in ``algorithms``.
        KeyNotFound: No key can verify it.
        InvalidSignature: The signature does not verify.
        ConfigurationError: On a bad ``algorithms`` or ``keys`` argument.

    .. versionadded:: 0.1.0
    """
    allowed = _normalize_algorithms(algorithms)
    resolver = _as_resolver(keys)
    raw = as_ascii(token, max_size)
    head, payload_seg, sig_seg = _split_compact(raw)
    header = parse_protected(head)
    alg, b64 = _check_header(header, allowed=allowed)
    if detached_payload is not None:
        if payload_seg:
            raise MalformedToken("detached payload given but the token carries a payload")
        if not isinstance(detached_payload, bytes):
            raise ConfigurationError("detached_payload must be bytes")
        payload = detached_payload
        payload_part = b64url_encode(payload).encode("ascii") if b64 else payload
    elif b64:
        payload = b64url_decode(payload_seg, what="payload")
        payload_part = payload_seg
    else:
        payload = payload_part = payload_seg
    signature = b64url_decode(sig_seg, what="signature")
    candidates = _select_keys(resolver, header.get("kid"), alg)
    key = _verify_with(candidates, head + b"." + payload_part, signature)
    return VerifiedJWS(payload=payload, header=header, key=key)


def _protected_header(key: JWK, headers: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    extra = dict(headers or {})
    if not all(isinstance(name, str) for name in extra):
        raise EncodeError("header names must be strings")
    requested = extra.pop("alg", None)
    if requested is not None and not isinstance(requested, str):
        raise EncodeError("alg must be a string")
    alg, _ = key.signer(requested)
    header: dict[str, Any] = {"alg": alg}
    if key.kid is not None:
        header["kid"] = key.kid
    header.update(extra)
    if "b64" in header:
        if not isinstance(header["b64"], bool):
            raise EncodeError("'b64' must be a boolean")
        if header["b64"] is False and "crit" not in header:
            header["crit"] = ["b64"]
    if "crit" in header:
        crit = header["crit"]
        if (
            not isinstance(crit, list)
            or not crit
            or not all(
                isinstance(c, str) and c in UNDERSTOOD_CRITICAL and c in header for c in crit
            )
        ):
            raise EncodeError("'crit' must list understood extensions present in the header")
    return alg, header


def sign(
    payload: bytes,
    key: JWK,
    *,
    headers: Mapping[str, Any] | None = None,
    detached: bool = False,
) -> str:
    """Sign ``payload`` and return the compact serialization.

    Args:
        payload: The bytes to sign.
        key: A private (or symmetric) key; its ``alg`` is used unless ``headers`` names one.
        headers: Extra protected header members.  ``{"b64": False}`` signs the payload
            unencoded (RFC 7797; ``crit`` is added for you).
        detached: Leave the payload segment empty (RFC 7515 appendix F).

    Raises:
        UnsupportedAlgorithm: If the key cannot sign with the algorithm.
        EncodeError: If the headers or payload cannot be encoded.

    .. versionadded:: 0.1.0
    """
    if not isinstance(key, JWK):
        raise ConfigurationError("key must be a JWK")
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise EncodeError("payload must be bytes")
    data = bytes(payload)
    alg, header = _protected_header(key, headers)
    _, signer = key.signer(alg)
    head = b64url_encode(json_dumps(header)).encode("ascii")
    if header.get("b64", True):
        body = b64url_encode(data).encode("ascii")
    else:
        if not detached and (b"." in data or not data.isascii()):
            raise EncodeError("an unencoded compact payload may not contain '.' or non-ASCII")
        body = data
    signature = signer(head + b"." + body)
    shown = b"" if detached else body
    return (head + b"." + shown + b"." + b64url_encode(signature).encode("ascii")).decode("ascii")


# ----------------------------------------------------------------------------- JSON


def sign_json(
    payload: bytes,
    keys: JWK | Sequence[JWK],
    *,
    headers: Mapping[str, Any] | None = None,
    unprotected: Mapping[str, Any] | None = None,
    flattened: bool = False,
    detached: bool = False,
) -> dict[str, Any]:
    """Sign ``payload`` with one or several keys in the JSON serialization.

    Args:
        payload: The bytes to sign.
        keys: One key, or several (one signature each, general serialization).
        headers: Protected header members shared by every signature (``alg`` and ``kid`` come
            from each key).
        unprotected: Unprotected header members shared by every signature.
        flattened: Produce the flattened form (exactly one key).
        detached: Omit the ``payload`` member.

    Raises:
        ConfigurationError: If ``flattened`` is requested with several keys, or no key is given.
        EncodeError: If protected and unprotected names overlap or cannot be encoded.

    .. versionadded:: 0.1.0
    """
    key_list = [keys] if isinstance(keys, JWK) else list(keys)
    if not key_list or not all(isinstance(k, JWK) for k in key_list):
        raise ConfigurationError("give at least one JWK")
    if flattened and len(key_list) != 1:
        raise ConfigurationError("the flattened serialization carries exactly one signature")
    extra = dict(unprotected or {})
    data = bytes(payload)
    signatures: list[dict[str, Any]] = []
    body: bytes | None = None
    for key in key_list:
        alg, header = _protected_header(key, headers)
        overlap = set(header) & set(extra)
        if overlap:
            raise EncodeError(f"header {min(overlap)!r} is both protected and unprotected")
        b64 = header.get("b64", True)
        body = b64url_encode(data).encode("ascii") if b64 else data
        head = b64url_encode(json_dumps(header)).encode("ascii")
        _, signer = key.signer(alg)
        entry: dict[str, Any] = {
            "protected": head.decode("ascii"),
            "signature": b64url_encode(signer(head + b"." + body)),
        }
        if extra:
            entry["header"] = dict(extra)
        signatures.append(entry)
    out: dict[str, Any] = {}
    if not detached and body is not None:
        try:
            out["payload"] = body.decode("utf-8")
        except UnicodeDecodeError:
            raise EncodeError("an unencoded JSON payload must be UTF-8") from None
    if flattened:
        out.update(signatures[0])
    else:
        out["signatures"] = signatures
    return out


def _signature_entries(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if "signatures" in obj:
        if "signature" in obj or "protected" in obj or "header" in obj:
            raise MalformedToken("general JWS JSON mixes flattened members")
        entries = obj["signatures"]
        if not isinstance(entries, list):
            raise MalformedToken("'signatures' must be an array")
        if not entries:
            raise MalformedToken("'signatures' is empty")
        if not all(isinstance(e, dict) for e in entries):
            raise MalformedToken("each signature must be a JSON object")
        return entries
    if "signature" not in obj:
        raise MalformedToken("JWS JSON has neither 'signatures' nor 'signature'")
    return [obj]


def _entry_header(
    entry: Mapping[str, Any], allowed: Collection[str]
) -> tuple[bytes, dict[str, Any], str, bool]:
    protected_text = entry.get("protected")
    unprotected = entry.get("header")
    if protected_text is None and unprotected is None:
        raise MalformedToken("a signature has no header")
    if protected_text is not None and not isinstance(protected_text, str):
        raise MalformedToken("'protected' must be a string")
    if unprotected is not None and not isinstance(unprotected, dict):
        raise MalformedToken("'header' must be a JSON object")
    head = (protected_text or "").encode("ascii", "replace")
    protected = parse_protected(head) if protected_text else {}
    merged = dict(protected)
    for name, value in (unprotected or {}).items():
        if name in merged:
            raise MalformedToken(f"header {name[:40]!r} is both protected and unprotected")
        merged[name] = value
    alg, b64 = _check_header(merged, allowed=allowed, protected=protected)
    return head, merged, alg, b64


def verify_json(
    jws: Mapping[str, Any] | str | bytes,
    keys: JWK | KeySet | KeyResolver | Sequence[JWK],
    *,
    algorithms: Collection[str],
    detached_payload: bytes | None = None,
    max_size: int = MAX_TOKEN_SIZE,
) -> VerifiedJWS:
    """Verify a general or flattened JSON JWS; succeed if one signature verifies.

    Signatures with a disallowed ``alg`` or without a usable key are skipped; any structural
    problem (an empty ``signatures`` list, overlapping protected and unprotected names, a bad
    ``crit``, differing ``b64`` values) rejects the whole object.

    Args:
        jws: The parsed object or its JSON text.
        keys: The verification key(s).
        algorithms: The accepted ``alg`` values.
        detached_payload: The payload, when the object has no ``payload`` member.
        max_size: The size cap: on the length of JSON text, or on the compact JSON encoding of
            an already parsed object.

    Returns:
        The payload, the header of the signature that verified and the key that verified it.

    Raises:
        TokenTooLarge: Over ``max_size``.
        MalformedToken: On a structural problem.
        AlgorithmNotAllowed, KeyNotFound, InvalidSignature: When no signature verifies (the
            error of the first signature that failed).

    .. versionadded:: 0.1.0
    """
    allowed = _normalize_algorithms(algorithms)
    resolver = _as_resolver(keys)
    obj = json_object(jws, max_size, "JWS JSON")
    entries = _signature_entries(obj)
    parsed = [_entry_header_or_error(entry, allowed) for entry in entries]
    b64_values = {p[3] for p in parsed if not isinstance(p, VerificationError)}
    if len(b64_values) > 1:
        raise MalformedToken("signatures disagree on 'b64'")
    b64 = b64_values.pop() if b64_values else True
    payload, payload_part = _json_payload(obj, b64=b64, detached_payload=detached_payload)
    first_error: VerificationError | None = None
    for entry, item in zip(entries, parsed, strict=True):
        try:
            if isinstance(item, VerificationError):
                raise item
            head, header, alg, _ = item
            sig_text = entry.get("signature")
            if not isinstance(sig_text, str):
                raise MalformedToken("'signature' must be a string")
            signature = b64url_decode(sig_text.encode("ascii", "replace"), what="signature")
            candidates = _select_keys(resolver, header.get("kid"), alg)
            key = _verify_with(candidates, head + b"." + payload_part, signature)
        except (AlgorithmNotAllowed, KeyNotFound, InvalidSignature) as exc:
            first_error = first_error or exc
            continue
        return VerifiedJWS(payload=payload, header=header, key=key)
    raise first_error or InvalidSignature("no signature verifies")


def _entry_header_or_error(
    entry: Mapping[str, Any], allowed: Collection[str]
) -> tuple[bytes, dict[str, Any], str, bool] | VerificationError:
    try:
        return _entry_header(entry, allowed)
    except AlgorithmNotAllowed as exc:
        return exc


def _json_payload(
    obj: Mapping[str, Any], *, b64: bool, detached_payload: bytes | None
) -> tuple[bytes, bytes]:
    if detached_payload is not None:
        if "payload" in obj:
            raise MalformedToken("detached payload given but the JWS carries a payload")
        if not isinstance(detached_payload, bytes):
            raise ConfigurationError("detached_payload must be bytes")
        part = b64url_encode(detached_payload).encode("ascii") if b64 else detached_payload
        return detached_payload, part
    text = obj.get("payload")
    if not isinstance(text, str):
        raise MalformedToken("JWS JSON has no string 'payload' (detached? pass detached_payload)")
    if b64:
        part = text.encode("ascii", "replace")
        return b64url_decode(part, what="payload"), part
    raw = text.encode("utf-8", "surrogatepass")
    return raw, raw
