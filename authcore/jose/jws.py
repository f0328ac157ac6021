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

from dataclasses import dataclass
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any, Final

from authcore._encoding import b64url_decode, b64url_encode, json_dumps
from authcore._options import bool_option, int_option, mapping_option
from authcore.errors import (
    AlgorithmNotAllowed,
    ConfigurationError,
    EncodeError,
    InvalidSignature,
    KeyNotFound,
    MalformedToken,
    VerificationError,
)
from authcore.jose import _core
from authcore.jose._core import (
    TrialBudget,
    as_ascii,
    as_resolver,
    check_jws_header,
    json_object,
    parse_protected,
    protected_header,
    signature_algorithms,
    split_compact,
    too_much_work,
    verification_keys,
    verify_with,
)
from authcore.jose._jwa import Verifier
from authcore.jose._jwk import JWK, KeyResolver, KeySet, key_signer, key_verifier

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping, Sequence

__all__ = [
    "MAX_KEY_TRIALS",
    "MAX_SIGNATURES",
    "MAX_TOKEN_SIZE",
    "UNDERSTOOD_CRITICAL",
    "VerifiedJWS",
    "sign",
    "sign_json",
    "verify",
    "verify_json",
]

MAX_TOKEN_SIZE: Final = _core.MAX_TOKEN_SIZE
"""Default cap on a token's length in characters, applied before any other work."""
MAX_SIGNATURES: Final = 8
"""Default cap on the signatures of a JWS JSON object, checked before any cryptography."""
MAX_KEY_TRIALS: Final = _core.MAX_KEY_TRIALS
"""Default cap on signature verifications per token (signatures x candidate keys)."""

UNDERSTOOD_CRITICAL: Final = _core.UNDERSTOOD_CRITICAL
"""The ``crit`` extensions this implementation understands (RFC 7797 ``b64``)."""


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


# ----------------------------------------------------------------------------- compact


def verify(
    token: str | bytes,
    keys: JWK | KeySet | KeyResolver | Sequence[JWK],
    *,
    algorithms: Collection[str],
    detached_payload: bytes | None = None,
    max_size: int = MAX_TOKEN_SIZE,
    max_key_trials: int = MAX_KEY_TRIALS,
) -> VerifiedJWS:
    """Verify a compact JWS.

    Args:
        token: The compact serialization.
        keys: The verification key(s).
        algorithms: The accepted ``alg`` values (required, never ``none``).
        detached_payload: The payload of a detached JWS (RFC 7515 appendix F), whose payload
            segment must then be empty.
        max_size: The size cap, checked before anything else.
        max_key_trials: The most keys tried (a token without ``kid`` against a large key
            set), refused before any cryptography.

    Returns:
        The payload, header and the key that verified.

    Raises:
        TokenTooLarge: Over ``max_size`` or ``max_key_trials``.
        MalformedToken: Bad structure or header.
        DecodeError: Bad base64url or JSON.
        AlgorithmNotAllowed: ``alg`` not in ``algorithms``.
        KeyNotFound: No key can verify it.
        InvalidSignature: The signature does not verify.
        ConfigurationError: On a bad ``algorithms`` or ``keys`` argument.

    .. versionadded:: 0.1.0
    """
    allowed = signature_algorithms(algorithms)
    resolver = as_resolver(keys)
    limit = int_option(max_key_trials, "max_key_trials")

    def candidates(header: Mapping[str, Any], alg: str) -> list[JWK]:
        return [k for k, _ in verification_keys(resolver, header.get("kid"), alg, limit=limit)]

    return _verify_compact(
        token, candidates, allowed=allowed, detached_payload=detached_payload, max_size=max_size
    )


def _verify_compact(
    token: str | bytes,
    candidates: Callable[[Mapping[str, Any], str], Sequence[JWK]],
    *,
    allowed: Collection[str],
    detached_payload: bytes | None = None,
    max_size: int = MAX_TOKEN_SIZE,
) -> VerifiedJWS:
    """:func:`verify` with the keys chosen by ``candidates(header, alg)`` (internal).

    ``candidates`` returns the keys to try once the header parsed and ``alg`` passed the
    allow-list.  For a JWS that carries its own key (a DPoP proof's ``jwk``) the caller
    validates the header's key and returns it: never pass a function that trusts a header's
    key without such checks.

    Raises:
        KeyNotFound: If no candidate may verify ``alg``.
    """
    raw = as_ascii(token, max_size)
    head, payload_seg, sig_seg = split_compact(raw, 3)
    header = parse_protected(head)
    alg, b64 = check_jws_header(header, allowed=allowed)
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
    usable = [(k, v) for k in candidates(header, alg) if (v := key_verifier(k, alg)) is not None]
    if not usable:
        raise KeyNotFound(f"no key may verify {alg}")
    key = verify_with(usable, head + b"." + payload_part, signature)
    return VerifiedJWS(payload=payload, header=header, key=key)


def _verify_compact_embedded(
    token: str | bytes,
    key_of: Callable[[Mapping[str, Any], str], JWK],
    *,
    allowed: frozenset[str],
    max_size: int = MAX_TOKEN_SIZE,
) -> tuple[JWK, bytes]:
    """Verify a compact JWS that carries its own key (a DPoP proof's ``jwk``) (internal).

    ``key_of(header, alg)`` validates the header's key and returns it, once the header parsed
    and ``alg`` passed the allow-list.  It must be a module-level function whose result
    depends on its arguments alone: what the header yields (``b64``, the key and its
    verifier) is remembered per exact protected header segment, ``allowed`` and ``key_of``
    (:func:`_embedded_header`), because a client repeats one header byte for byte.  The
    header itself is not returned, so no caller can change a remembered one.

    Returns:
        The header's key and the payload, once the signature verified.

    Raises:
        KeyNotFound: If the key may not verify ``alg``.
        InvalidSignature: If the signature does not verify with it.
    """
    raw = as_ascii(token, max_size)
    head, payload_seg, sig_seg = split_compact(raw, 3)
    b64, key, verifier = _embedded_header(head, allowed, key_of)
    payload = b64url_decode(payload_seg, what="payload") if b64 else payload_seg
    verifier(head + b"." + payload_seg, b64url_decode(sig_seg, what="signature"))
    return key, payload


@lru_cache(maxsize=256)
def _embedded_header(
    head: bytes, allowed: frozenset[str], key_of: Callable[[Mapping[str, Any], str], JWK]
) -> tuple[bool, JWK, Verifier]:
    """Parse and check a protected header and the key it carries (bounded memo).

    Errors are raised again each time, never remembered.
    """
    header = parse_protected(head)
    alg, b64 = check_jws_header(header, allowed=allowed)
    key = key_of(header, alg)
    verifier = key_verifier(key, alg)
    if verifier is None:
        raise KeyNotFound(f"no key may verify {alg}")
    return b64, key, verifier


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
    bool_option(detached, "detached")
    alg, header = protected_header(key, headers)
    _, signer = key_signer(key, alg)
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
    bool_option(detached, "detached")
    if bool_option(flattened, "flattened") and len(key_list) != 1:
        raise ConfigurationError("the flattened serialization carries exactly one signature")
    extra = mapping_option(unprotected, "unprotected")
    data = bytes(payload)
    signatures: list[dict[str, Any]] = []
    body: bytes | None = None
    for key in key_list:
        alg, header = protected_header(key, headers)
        overlap = set(header) & set(extra)
        if overlap:
            raise EncodeError(f"header {min(overlap)!r} is both protected and unprotected")
        b64 = header.get("b64", True)
        body = b64url_encode(data).encode("ascii") if b64 else data
        head = b64url_encode(json_dumps(header)).encode("ascii")
        _, signer = key_signer(key, alg)
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
    alg, b64 = check_jws_header(merged, allowed=allowed, protected=protected)
    return head, merged, alg, b64


def verify_json(
    jws: Mapping[str, Any] | str | bytes,
    keys: JWK | KeySet | KeyResolver | Sequence[JWK],
    *,
    algorithms: Collection[str],
    detached_payload: bytes | None = None,
    max_size: int = MAX_TOKEN_SIZE,
    max_signatures: int = MAX_SIGNATURES,
    max_key_trials: int = MAX_KEY_TRIALS,
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
        max_signatures: The most signatures accepted, refused before any cryptography.
        max_key_trials: The most signature verifications one object may cause (signatures
            times candidate keys, counted before any cryptography).

    Returns:
        The payload, the header of the signature that verified and the key that verified it.

    Raises:
        TokenTooLarge: Over ``max_size``, ``max_signatures`` or ``max_key_trials``.
        MalformedToken: On a structural problem.
        AlgorithmNotAllowed, KeyNotFound, InvalidSignature: When no signature verifies (the
            error of the first signature that failed).

    .. versionadded:: 0.1.0
    """
    allowed = signature_algorithms(algorithms)
    resolver = as_resolver(keys)
    most = int_option(max_signatures, "max_signatures")
    int_option(max_key_trials, "max_key_trials")
    obj = json_object(jws, max_size, "JWS JSON", max_entries=most)
    entries = _signature_entries(obj)
    if len(entries) > most:
        raise too_much_work("signatures", most, "max_signatures")
    parsed = [_entry_header_or_error(entry, allowed) for entry in entries]
    b64_values = {p[3] for p in parsed if not isinstance(p, VerificationError)}
    if len(b64_values) > 1:
        raise MalformedToken("signatures disagree on 'b64'")
    b64 = b64_values.pop() if b64_values else True
    payload, payload_part = _json_payload(obj, b64=b64, detached_payload=detached_payload)
    planned = _plan_signatures(entries, parsed, resolver, max_key_trials=max_key_trials)
    first_error: VerificationError | None = None
    for plan in planned:
        if isinstance(plan, VerificationError):
            first_error = first_error or plan
            continue
        head, header, signature, candidates = plan
        try:
            key = verify_with(candidates, head + b"." + payload_part, signature)
        except InvalidSignature as exc:
            first_error = first_error or exc
            continue
        return VerifiedJWS(payload=payload, header=header, key=key)
    raise first_error or InvalidSignature("no signature verifies")


_Plan = tuple[bytes, dict[str, Any], bytes, list[tuple[JWK, Verifier]]]


def _plan_signatures(
    entries: Sequence[Mapping[str, Any]],
    parsed: Sequence[tuple[bytes, dict[str, Any], str, bool] | VerificationError],
    resolver: KeyResolver,
    *,
    max_key_trials: int,
) -> list[_Plan | VerificationError]:
    """Choose every signature's candidate keys before any cryptography runs.

    All signatures share one budget of key trials (signatures x candidate keys); an object
    over it is refused whole.
    """
    budget = TrialBudget(max_key_trials, "signatures")
    planned: list[_Plan | VerificationError] = []
    for entry, item in zip(entries, parsed, strict=True):
        if isinstance(item, VerificationError):
            planned.append(item)
            continue
        head, header, alg, _ = item
        sig_text = entry.get("signature")
        if not isinstance(sig_text, str):
            raise MalformedToken("'signature' must be a string")
        signature = b64url_decode(sig_text.encode("ascii", "replace"), what="signature")
        kid = header.get("kid")
        try:
            candidates = budget.take(partial(verification_keys, resolver, kid, alg))
        except KeyNotFound as exc:
            planned.append(exc)
            continue
        planned.append((head, header, signature, candidates))
    return planned


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
