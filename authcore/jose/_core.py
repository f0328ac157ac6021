"""The JOSE core shared by :mod:`~authcore.jose.jws`, :mod:`~authcore.jose.jwt` and JWE.

One home for what the three layers have in common (RFC 7515 and RFC 7516 share their header
rules), so they cannot drift apart:

* the accepted key inputs (:func:`check_keys`, :func:`as_resolver`) and ``kid`` selection
  (:func:`select_keys`, RFC 7515 section 4.1.4);
* algorithm lists (:func:`algorithm_names`), ``crit`` (RFC 7515 section 4.1.11) and the typed
  header members (:func:`check_crit`, :func:`check_string_members`);
* token text (:func:`as_ascii`) and compact splitting (:func:`split_compact`), protected headers
  (:func:`parse_protected`) and JSON serialization objects (:func:`json_object`);
* the header of a signature (:func:`protected_header`) and trial verification
  (:func:`verify_with`).

Every parsing function here runs before any cryptography and raises only
:class:`~authcore.errors.MalformedToken` (:class:`~authcore.errors.TokenTooLarge` for the cap) or
:class:`~authcore.errors.DecodeError`; key and option problems are
:class:`~authcore.errors.ConfigurationError`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, Final, TypeVar

from authcore._encoding import b64url_decode, json_loads
from authcore._options import int_option, mapping_option
from authcore.errors import (
    AlgorithmNotAllowed,
    ConfigurationError,
    EncodeError,
    InvalidSignature,
    KeyNotFound,
    MalformedToken,
    TokenTooLarge,
    UnsupportedAlgorithm,
)
from authcore.jose._jwa import SIGNATURE_ALGORITHMS, Verifier
from authcore.jose._jwk import JWK, KeyResolver, KeySet, key_signer, key_verifier

__all__ = [
    "JWS_REGISTERED_HEADERS",
    "MAX_KEY_TRIALS",
    "MAX_TOKEN_SIZE",
    "UNDERSTOOD_CRITICAL",
    "TrialBudget",
    "algorithm_names",
    "as_ascii",
    "as_resolver",
    "check_crit",
    "check_jws_header",
    "check_keys",
    "check_string_members",
    "json_object",
    "parse_protected",
    "protected_header",
    "select_keys",
    "signature_algorithms",
    "split_compact",
    "token_text_problem",
    "too_much_work",
    "verification_keys",
    "verify_with",
]

_T = TypeVar("_T")

MAX_TOKEN_SIZE: Final = 16 * 1024
"""Default cap on a compact JWS/JWT's length in characters, applied before any other work."""

MAX_KEY_TRIALS: Final = 16
"""Default cap on the keys tried for one token: signatures (or recipients) x candidate keys."""

STRING_HEADERS: Final = ("kid", "typ", "cty")
"""Header members that must be strings when present (RFC 7515 section 4.1)."""

_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_KEYS_HINT: Final = (
    "pass a JWK (JWK.from_dict(...), JWK.from_pem(...) or JWK.from_secret(...)), "
    "a KeySet (KeySet.from_dict(...)), a list of JWK or a key resolver"
)

# ----------------------------------------------------------------------------- keys


def _key_input_problem(keys: object) -> str:
    if keys is None:
        return "keys is None"
    if isinstance(keys, Mapping):
        return "keys is a dict, not a JWK"
    if isinstance(keys, (str, bytes, bytearray, memoryview)):
        return f"keys is {type(keys).__name__} (key text or a path), not a JWK"
    return f"keys is a {type(keys).__name__}, not a JWK"


def _refuse_keys(keys: object) -> ConfigurationError:
    return ConfigurationError(f"{_key_input_problem(keys)}: {_KEYS_HINT}")


def check_keys(keys: object) -> JWK | KeyResolver:
    """Return the caller's ``keys`` argument as one :class:`JWK` or a :class:`KeyResolver`.

    Accepted: a :class:`JWK`, a :class:`KeySet` or any other :class:`KeyResolver`, a list or
    tuple of :class:`JWK`.  Everything else (a dict, key text or bytes, a list of dicts,
    ``None``) is refused with a message saying what to pass instead.

    Raises:
        ConfigurationError: For anything else.
    """
    if isinstance(keys, JWK):
        return keys
    if isinstance(keys, (list, tuple)):
        items: Sequence[object] = keys
        for item in items:
            if not isinstance(item, JWK):
                raise ConfigurationError(
                    f"keys holds a {type(item).__name__}, not a JWK: {_KEYS_HINT}"
                )
        return KeySet(keys)
    if isinstance(keys, KeyResolver) and not isinstance(
        keys, (Mapping, str, bytes, bytearray, memoryview)
    ):
        return keys
    raise _refuse_keys(keys)


def as_resolver(keys: object) -> KeyResolver:
    """Like :func:`check_keys`, with a single key wrapped in a :class:`KeySet`.

    Raises:
        ConfigurationError: For anything but keys.
    """
    checked = check_keys(keys)
    return KeySet([checked]) if isinstance(checked, JWK) else checked


def _resolved(key: object) -> JWK:
    if not isinstance(key, JWK):
        raise ConfigurationError(f"the key resolver returned {type(key).__name__}, not a JWK")
    return key


def select_keys(
    keys: JWK | KeyResolver,
    kid: str | None,
    usable: Callable[[JWK], _T | None],
    *,
    purpose: str,
    limit: int = MAX_KEY_TRIALS,
) -> list[tuple[JWK, _T]]:
    """Return the keys (with what ``usable`` made of each) that may serve a header's ``kid``.

    A ``kid`` selects the key with exactly that id; when no key has it, only keys without a
    ``kid`` are candidates.  Without a ``kid``, every usable key is.  More than ``limit``
    candidates are refused before any of them is tried: the work one header can cause is
    bounded, whatever the size of the key set.

    Args:
        keys: One key or a resolver.
        kid: The header's ``kid``.
        usable: Returns what the layer needs to use a key (a verifier, the key itself), or
            ``None`` when the key cannot serve.
        purpose: What the key is for, for messages ("verify ES256").
        limit: The most candidates accepted (what is left of the caller's key-trial budget).

    Raises:
        KeyNotFound: If no key qualifies.
        TokenTooLarge: If more than ``limit`` keys would have to be tried.
        ConfigurationError: If the resolver returns something that is not a :class:`JWK`.
    """
    if isinstance(keys, JWK):
        return [_select_one(keys, kid, usable, purpose)]
    if kid is not None:
        key = keys.get(kid)
        if key is not None:
            found_one = usable(_resolved(key))
            if found_one is None:
                raise KeyNotFound(f"the key named by kid cannot {purpose}")
            return [(key, found_one)]
    found: list[tuple[JWK, _T]] = []
    for key in keys:
        _resolved(key)
        if kid is not None and key.kid is not None:
            continue
        value = usable(key)
        if value is not None:
            found.append((key, value))
            if len(found) > limit:
                raise too_much_work("candidate keys: give tokens a kid", limit, "max_key_trials")
    if not found:
        raise KeyNotFound("no key for this kid" if kid is not None else f"no key to {purpose}")
    return found


def _select_one(
    key: JWK, kid: str | None, usable: Callable[[JWK], _T | None], purpose: str
) -> tuple[JWK, _T]:
    # One key: the KeySet rules, without building a KeySet.
    if kid is not None and key.kid is not None and key.kid != kid:
        raise KeyNotFound("no key for this kid")
    value = usable(key)
    if value is None:
        raise KeyNotFound(f"the key cannot {purpose}")
    return key, value


def too_much_work(what: str, limit: int, option: str) -> TokenTooLarge:
    """The error of a token that asks for more than ``limit`` of ``what`` (before any work)."""
    return TokenTooLarge(f"more than {limit} {what} (the {option} option)")


class TrialBudget:
    """What is left of one token's key trials (signatures or recipients x candidate keys).

    Candidates are chosen for every signature or recipient before any cryptography runs; an
    object whose choices together exceed the budget is refused whole.
    """

    __slots__ = ("_left", "_limit", "_what")

    def __init__(self, limit: object, what: str) -> None:
        self._limit = int_option(limit, "max_key_trials")
        self._left = self._limit
        self._what = what

    def take(self, select: Callable[[int], list[_T]]) -> list[_T]:
        """Run ``select(left)`` (it raises ``TokenTooLarge`` past ``left``) and spend its result.

        Raises:
            TokenTooLarge: If the candidates exceed what is left.
            KeyNotFound: As ``select`` does.
        """
        try:
            found = select(self._left)
        except TokenTooLarge:
            found = []  # over the budget: refused just below
        if not found or len(found) > self._left:
            raise too_much_work(f"key trials ({self._what} x keys)", self._limit, "max_key_trials")
        self._left -= len(found)
        return found


def verify_with(
    candidates: Sequence[tuple[JWK, Verifier]], signing_input: bytes, signature: bytes
) -> JWK:
    """Return the first candidate key whose verifier accepts ``signature``.

    Raises:
        InvalidSignature: If none does.
    """
    for key, verifier in candidates:
        try:
            verifier(signing_input, signature)
        except InvalidSignature:
            continue
        return key
    raise InvalidSignature("signature does not verify with any candidate key")


# ----------------------------------------------------------------------------- options


def algorithm_names(
    value: object, *, what: str, registry: Collection[str], example: str, kind: str
) -> frozenset[str]:
    """Check a caller's list of algorithm names against ``registry``.

    Raises:
        ConfigurationError: If it is missing, a bare string, empty, or holds non-strings.
        UnsupportedAlgorithm: If it names ``none`` or an algorithm not in ``registry``.
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ConfigurationError(f"{what} must be a list of algorithm names, e.g. [{example!r}]")
    try:
        names = frozenset(value)
    except TypeError:
        raise ConfigurationError(f"{what} must contain strings") from None
    if not names:
        raise ConfigurationError(f"{what} is empty: name the algorithms you accept")
    for name in names:
        if not isinstance(name, str):
            raise ConfigurationError(f"{what} must contain strings")
        if name.lower() == "none":
            raise UnsupportedAlgorithm("'none' is never accepted")
        if name not in registry:
            raise UnsupportedAlgorithm(f"{name[:20]!r} is not a supported {kind}")
    return names


# ----------------------------------------------------------------------------- token text


def token_text_problem(raw: bytes) -> str | None:
    """Say what is wrong with a token that carries a ``Bearer`` prefix or surrounding whitespace.

    These are the two mistakes of a token copied out of an ``Authorization`` header or read
    from a file; they are reported before the generic "not base64url" errors.
    """
    stripped = raw.strip()
    if stripped[:6].lower() == b"bearer" and stripped[6:7].isspace():
        return "token starts with 'Bearer ': pass the token alone, without the auth scheme"
    if stripped == raw:
        return None
    if raw.endswith(b"\n"):
        return "token ends with a newline: strip it first (read from a file?)"
    return "token has leading or trailing whitespace: strip it first"


def _refuse_token_text(raw: bytes) -> None:
    problem = token_text_problem(raw)
    if problem is not None:
        raise MalformedToken(problem)


def as_ascii(token: object, max_size: int) -> bytes:
    """Apply the size cap to a compact token (``str`` or bytes alike), return its ASCII bytes.

    Raises:
        TokenTooLarge: Over ``max_size`` characters (or bytes).
        MalformedToken: Not ``str``/bytes, not ASCII, or with a ``Bearer`` prefix or
            surrounding whitespace (the message says which).
    """
    if type(max_size) is not int or max_size < 1:
        int_option(max_size, "max_size")  # a float("nan") cap would refuse nothing
    if isinstance(token, str):
        if len(token) > max_size:
            raise TokenTooLarge(f"token longer than {max_size} characters")
        if not token.isascii():
            raise MalformedToken("token is not ASCII")
        raw = token.encode("ascii")
    elif isinstance(token, (bytes, bytearray, memoryview)):
        raw = bytes(token)
        if len(raw) > max_size:
            raise TokenTooLarge(f"token longer than {max_size} bytes")
        if not raw.isascii():
            raise MalformedToken("token is not ASCII")
    else:
        raise MalformedToken(f"token must be str or bytes, not {type(token).__name__}")
    if raw[:1].isspace() or raw[-1:].isspace() or raw[:6].lower() == b"bearer":
        _refuse_token_text(raw)
    return raw


def split_compact(raw: bytes, segments: int) -> list[bytes]:
    """Split a compact JWS (3 segments) or JWE (5 segments); refuse the other shape by name.

    Raises:
        MalformedToken: If the number of segments is not ``segments``.
    """
    dots = raw.count(b".")
    if dots == segments - 1:
        return raw.split(b".")
    _refuse_token_text(raw)
    if segments == 3 and dots == 4:  # noqa: PLR2004 - JWS vs JWE
        raise MalformedToken("five segments: a JWE is not accepted where a JWS is expected")
    if segments == 5 and dots == 2:  # noqa: PLR2004
        raise MalformedToken("three segments: a JWS is not accepted where a JWE is expected")
    kind = "JWS" if segments == 3 else "JWE"  # noqa: PLR2004
    if raw.lstrip().startswith(b"{"):
        function = "verify_json" if kind == "JWS" else "decrypt_json"
        raise MalformedToken(f"JSON serialization: use {function}")
    raise MalformedToken(f"a compact {kind} has {segments} segments, not {dots + 1}")


def parse_protected(segment: bytes) -> dict[str, Any]:
    """Decode a compact protected header segment into a JSON object.

    Raises:
        MalformedToken: If it is empty or not a JSON object.
        DecodeError: If it is not strict base64url or strict JSON.
    """
    if not segment:
        raise MalformedToken("empty protected header")
    header = json_loads(b64url_decode(segment, what="protected header"), what="protected header")
    if not isinstance(header, dict):
        raise MalformedToken("protected header is not a JSON object")
    return header


def _check_mapping_size(data: dict[str, Any], max_size: int, what: str) -> None:
    # The cap of the text form, applied to the compact JSON an already parsed object stands for.
    # The encoder stops as soon as the cap is passed, so an oversized object costs at most
    # max_size characters of work (plus the one chunk that crossed it).
    size = 0
    try:
        for chunk in _ENCODER.iterencode(data):
            size += len(chunk)
            if size > max_size:
                raise TokenTooLarge(f"{what} longer than {max_size}")
    except (TypeError, ValueError, RecursionError):
        raise MalformedToken(f"{what} holds values that are not JSON") from None


JSON_SERIALIZATION_DEPTH: Final = 8
"""Nesting allowed in a JWS/JWE JSON serialization: the deepest legitimate one, an entry's
header holding a JWK with ``oth`` (object, list, object, object, object, list, object), is 7."""
CONTAINERS_PER_ENTRY: Final = 16
"""JSON objects and arrays allowed per signature or recipient entry (and once more for the
members around them), counted in the text before parsing: an entry needs three or four."""


def json_object(data: object, max_size: int, what: str, *, max_entries: int) -> dict[str, Any]:
    """Return the JSON serialization object of a JWS or JWE, from text, bytes or a mapping.

    The size cap applies to every form: to the length of text or bytes before parsing, and to
    the compact JSON encoding of a mapping.  Text is also refused before parsing when it holds
    more ``{`` and ``[`` than :data:`CONTAINERS_PER_ENTRY` per allowed entry (one count in C,
    so a body built of thousands of entries or of nested brackets costs no parsing; brackets
    inside strings count too, which only header values could hold), and when it nests deeper
    than :data:`JSON_SERIALIZATION_DEPTH`.

    Raises:
        TokenTooLarge: Over ``max_size``, or holding more objects and arrays than
            ``max_entries`` entries can.
        MalformedToken: Not text, bytes or a mapping; not a JSON object; a mapping holding
            values that are not JSON.
        DecodeError: Text that is not strict JSON.
    """
    int_option(max_size, "max_size")
    if isinstance(data, Mapping):
        obj = dict(data)
        _check_mapping_size(obj, max_size, what)
        return obj
    if isinstance(data, (str, bytes, bytearray, memoryview)):
        raw = data if isinstance(data, str) else bytes(data)
        if len(raw) > max_size:
            raise TokenTooLarge(f"{what} longer than {max_size}")
        limit = CONTAINERS_PER_ENTRY * (max_entries + 1)
        if isinstance(raw, str):
            opened = raw.count("{") + raw.count("[")
        else:
            opened = raw.count(b"{") + raw.count(b"[")
        if opened > limit:
            raise TokenTooLarge(
                f"{what} holds more than {limit} objects and arrays "
                f"({CONTAINERS_PER_ENTRY} per entry; raise the entry limit for more)"
            )
        parsed = json_loads(raw, what=what, max_depth=JSON_SERIALIZATION_DEPTH)
        if not isinstance(parsed, dict):
            raise MalformedToken(f"{what} is not an object")
        return parsed
    kind = type(data).__name__
    raise MalformedToken(f"{what} is not an object: give str, bytes or a mapping, not {kind}")


# ----------------------------------------------------------------------------- headers


def check_string_members(header: Mapping[str, Any]) -> None:
    """Refuse ``kid``, ``typ`` and ``cty`` members that are not strings.

    Raises:
        MalformedToken: On the first such member.
    """
    for name in STRING_HEADERS:
        if name in header and not isinstance(header[name], str):
            raise MalformedToken(f"header {name!r} must be a string")


def check_crit(
    protected: Mapping[str, Any], *, understood: Collection[str], registered: Collection[str]
) -> None:
    """Check ``crit`` (RFC 7515 section 4.1.11, RFC 7516 section 4.1.13).

    It must be protected, a non-empty array of distinct strings, name no registered header,
    and list only ``understood`` extensions that the protected header carries.

    Raises:
        MalformedToken: On the first problem.
    """
    if "crit" not in protected:
        raise MalformedToken("'crit' must be in the protected header")
    crit = protected["crit"]
    if not isinstance(crit, list) or not crit:
        raise MalformedToken("'crit' must be a non-empty array")
    if not all(isinstance(c, str) for c in crit) or len(set(crit)) != len(crit):
        raise MalformedToken("'crit' must list distinct strings")
    for name in crit:
        if name in registered:
            raise MalformedToken(f"'crit' lists the registered header {name!r}")
        shown = repr(name[:40])
        if name not in understood:
            absent = "" if name in protected else ", absent from the protected header"
            raise MalformedToken(f"'crit' lists an unsupported extension {shown}{absent}")
        if name not in protected:
            raise MalformedToken(f"'crit' lists {shown} but the protected header lacks it")


def protected_header(key: JWK, headers: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """Build the protected header of a signature by ``key``: ``(alg, header)``.

    ``alg`` comes from ``headers`` or the key, ``kid`` from the key; ``b64: false`` gets its
    ``crit`` entry (RFC 7797 section 6).

    Raises:
        EncodeError: On header names or values that cannot be encoded, or a bad ``crit``.
        UnsupportedAlgorithm: If the key cannot sign with the algorithm.
    """
    extra = mapping_option(headers, "headers")
    if not all(isinstance(name, str) for name in extra):
        raise EncodeError("header names must be strings")
    requested = extra.pop("alg", None)
    if requested is not None and not isinstance(requested, str):
        raise EncodeError("alg must be a string")
    alg, _ = key_signer(key, requested)
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


# ----------------------------------------------------------------------------- JWS headers

UNDERSTOOD_CRITICAL: Final = frozenset({"b64"})
"""The ``crit`` extensions understood in a JWS (RFC 7797 ``b64``); none in a JWE."""

JWS_REGISTERED_HEADERS: Final = frozenset(
    {"alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit"}
)


def signature_algorithms(algorithms: object) -> frozenset[str]:
    """Check the caller's JWS ``algorithms`` list.

    Raises:
        ConfigurationError: If it is missing, a bare string, empty, or not strings.
        UnsupportedAlgorithm: If it names ``none`` or an unknown algorithm.
    """
    return algorithm_names(
        algorithms,
        what="algorithms",
        registry=SIGNATURE_ALGORITHMS,
        example="ES256",
        kind="JWS algorithm",
    )


def verification_keys(
    resolver: JWK | KeyResolver, kid: str | None, alg: str, limit: int = MAX_KEY_TRIALS
) -> list[tuple[JWK, Verifier]]:
    """Return the keys (with their verifiers) that may verify a signature with ``alg``/``kid``.

    Raises:
        KeyNotFound: If no key qualifies.
        TokenTooLarge: If more than ``limit`` keys qualify.
    """
    return select_keys(
        resolver, kid, lambda key: key_verifier(key, alg), purpose=f"verify {alg}", limit=limit
    )


def check_jws_header(
    header: object, *, allowed: Collection[str], protected: Mapping[str, Any] | None = None
) -> tuple[str, bool]:
    """Validate a JWS header; return ``(alg, b64)``.

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
    check_string_members(header)
    prot = header if protected is None else protected
    if "crit" in header:
        check_crit(prot, understood=UNDERSTOOD_CRITICAL, registered=JWS_REGISTERED_HEADERS)
    return alg, _check_b64(header, prot) if "b64" in header else True


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
