"""JSON Web Tokens (RFC 7519) with the checks of RFC 8725 (JWT Best Current Practices).

:class:`JWTVerifier` is built once, is immutable and thread-safe, and is the fast path: it
remembers the parsed and checked protected header of each header segment that has verified (a
small bounded table; a header is only remembered after a signature made with it verified).
:func:`decode` is the one-shot form; :func:`encode` signs claims.

What :meth:`JWTVerifier.verify` checks, in addition to everything :func:`authcore.jose.jws.verify`
checks (size cap first, structure, strict base64url and JSON, ``alg`` allowlist, ``crit``, key
selection by ``kid``, signature):

* the payload is a JSON object and the header has no ``b64: false``;
* ``exp`` (required by default): a NumericDate (a JSON number: not a bool, string, NaN or
  infinity) and ``now < exp + leeway``;
* ``nbf`` and ``iat`` when present: NumericDates not after ``now + leeway``; with ``max_age``,
  ``iat`` is required and ``now <= iat + max_age + leeway``;
* ``iss`` equals one of the expected issuers exactly (when ``issuer`` is given);
* ``aud`` (a string or an array of strings) contains an expected audience (when ``audience``
  is given); a token carrying ``aud`` is refused when no audience is expected (RFC 7519
  section 4.1.3);
* ``sub`` equals ``subject`` (when given); ``iss``, ``sub`` and ``jti`` are strings when present;
* every claim named in ``required`` is present;
* ``typ`` (when ``typ`` is given) equals it, compared case-insensitively with any
  ``application/`` prefix removed (RFC 7515 section 4.1.9, RFC 8725 section 3.11).

What it does **not** check: ``jti`` uniqueness (replay needs a store: use
:mod:`authcore.stores`), revocation (unless a ``denylist`` is given, see
:mod:`authcore.jose.denylist`), the meaning of private claims or scopes, nested JWTs
(``cty: JWT`` payloads are not unwrapped), and header ``jwk``/``jku``/``x5u``/``x5c``, which
are never used to find a key.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import datetime as dt
import json
import math
from binascii import b2a_base64
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, final

from authcore._encoding import (
    B64URL_ALPHABET,
    b64url_decode,
    b64url_decode_known_alphabet,
    b64url_encode,
    json_dumps,
    json_loads,
)
from authcore._kinds import is_async
from authcore._options import int_option, mapping_option, seconds_option, strings_option
from authcore.clock import Clock, Instant, as_datetime, as_unix, ensure_aware, unix_now
from authcore.errors import (
    ConfigurationError,
    EncodeError,
    ExpiredToken,
    ImmatureToken,
    InvalidAudience,
    InvalidClaim,
    InvalidIssuer,
    InvalidTokenType,
    MalformedToken,
    MissingClaim,
)
from authcore.jose._core import (
    MAX_KEY_TRIALS,
    MAX_TOKEN_SIZE,
    as_ascii,
    as_resolver,
    check_jws_header,
    parse_protected,
    protected_header,
    signature_algorithms,
    split_compact,
    token_text_problem,
    verification_keys,
    verify_with,
)
from authcore.jose._jwa import Verifier
from authcore.jose._jwk import JWK, KeyResolver, KeySet, key_memo, key_signer
from authcore.jose.denylist import acheck_not_revoked, check_not_revoked
from authcore.onetime import AsyncOneTimeStore, OneTimeStore, check_store, check_store_or_async

__all__ = ["JWTVerifier", "UnverifiedJWT", "decode", "decode_unverified", "encode"]

_HEADER_CACHE_SIZE: Final = 64
_TIME_CLAIMS: Final = ("exp", "nbf", "iat")
_NUMBERS: Final = frozenset({int, float})
_TO_URLSAFE: Final = bytes.maketrans(b"+/", b"-_")
_CHECKED_CLAIMS: Final = frozenset({"exp", "nbf", "iat", "iss", "sub", "aud"})
_encode_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode

_Candidates = Sequence[tuple[JWK, Verifier]]
# header segment -> (checked header, candidate keys if static, the single verifier if static)
_CacheEntry = tuple[dict[str, Any], _Candidates | None, Verifier | None]


def _reject_compact(raw: bytes) -> None:
    """Raise the precise error for a token that is not three base64url segments."""
    problem = token_text_problem(raw)
    if problem is not None:
        raise MalformedToken(problem)
    head, payload, signature = split_compact(raw, 3)
    b64url_decode(head, what="protected header")
    b64url_decode(payload, what="payload")
    b64url_decode(signature, what="signature")
    raise MalformedToken("unexpected character in token")  # pragma: no cover - b64url_decode raised


def _normalize_typ(value: str) -> str:
    lowered = value.lower()
    if lowered.startswith("application/") and "/" not in lowered[12:]:
        return lowered[12:]
    return lowered


def _strings(value: str | Iterable[str] | None, name: str) -> frozenset[str] | None:
    return None if value is None else frozenset(strings_option(value, name))


def _nonempty_str(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _seconds(value: float | dt.timedelta, name: str) -> float:
    return seconds_option(value, name, positive=False)


def _check_options(*, subject: object, typ: object, max_size: object, clock: object) -> None:
    if subject is not None and not _nonempty_str(subject):
        raise ConfigurationError("subject must be a non-empty string")
    if typ is not None and not _nonempty_str(typ):
        raise ConfigurationError("typ must be a non-empty string")
    int_option(max_size, "max_size")
    if clock is not None and not isinstance(clock, Clock):
        raise ConfigurationError("clock must have a now() method")


def _required_names(required: object, *, with_iat: bool) -> tuple[str, ...]:
    if isinstance(required, str) or not isinstance(required, Iterable):
        raise ConfigurationError("required must be a list of claim names")
    names: tuple[object, ...] = tuple(dict.fromkeys(required))
    if not all(_nonempty_str(name) for name in names):
        raise ConfigurationError("required must contain claim names")
    result = tuple(str(name) for name in names)
    if with_iat and "iat" not in result:
        result = (*result, "iat")
    return result


@final
class JWTVerifier:
    """A reusable, immutable, thread-safe JWT verifier: configure once, call :meth:`verify`.

    Args:
        keys: A :class:`~authcore.jose.JWK`, a :class:`~authcore.jose.KeySet`, a list of keys,
            or any :class:`~authcore.jose.KeyResolver` (such as a JWKS cache).
        algorithms: The accepted ``alg`` values.  Required; ``none`` does not exist.
        issuer: The expected ``iss`` (one string or several accepted ones).
        audience: The accepted audiences; the token's ``aud`` must contain one.
        subject: The expected ``sub``.
        leeway: Clock skew tolerated on ``exp``, ``nbf``, ``iat`` and ``max_age``, in seconds.
        required: Claims that must be present (default ``("exp",)``).
        typ: The required ``typ`` header (for example ``"at+jwt"``), or ``None`` for no check.
        max_age: Maximum age after ``iat``, in seconds (makes ``iat`` required).
        max_size: Token size cap in characters (default 16 KiB), checked before any work.
        clock: Where the current time comes from when ``verify`` gets no ``now``.
        denylist: A :class:`~authcore.onetime.OneTimeStore` holding revoked tokens (recorded
            with :func:`authcore.jose.denylist.revoke`), consulted after the signature and
            every claim verified; tokens must then carry a ``jti``.  An
            :class:`~authcore.onetime.AsyncOneTimeStore` (Redis or PostgreSQL from asyncio
            code) is awaited by :meth:`averify`; :meth:`verify` then refuses to run.
        max_key_trials: The most keys tried for one token (a token without ``kid`` against a
            large key set is refused before any cryptography).

    Raises:
        ConfigurationError: On a missing or invalid option.
        UnsupportedAlgorithm: On an unknown algorithm name.

    .. versionadded:: 0.1.0
    """

    __slots__ = (
        "_aud",
        "_cache",
        "_clock",
        "_denylist",
        "_denylist_async",
        "_issuers",
        "_leeway",
        "_max_age",
        "_max_size",
        "_max_trials",
        "_need",
        "_other_required",
        "_plain",
        "_required",
        "_resolver",
        "_static",
        "_sub",
        "_typ",
        "algorithms",
    )

    algorithms: frozenset[str]
    _resolver: KeyResolver
    _static: bool
    _issuers: frozenset[str] | None
    _aud: frozenset[str] | None
    _sub: str | None
    _leeway: float
    _required: tuple[str, ...]
    _need: frozenset[str]
    _other_required: tuple[str, ...]
    _typ: str | None
    _max_age: float | None
    _max_size: int
    _max_trials: int
    _clock: Clock | None
    _denylist: OneTimeStore | AsyncOneTimeStore | None
    _denylist_async: bool
    _plain: JWTVerifier | None
    _cache: dict[bytes, _CacheEntry]

    def __init__(
        self,
        keys: JWK | KeySet | KeyResolver | Sequence[JWK],
        *,
        algorithms: Collection[str],
        issuer: str | Iterable[str] | None = None,
        audience: str | Iterable[str] | None = None,
        subject: str | None = None,
        leeway: float | dt.timedelta = 0,
        required: Iterable[str] = ("exp",),
        typ: str | None = None,
        max_age: float | dt.timedelta | None = None,
        max_size: int = MAX_TOKEN_SIZE,
        clock: Clock | None = None,
        denylist: OneTimeStore | AsyncOneTimeStore | None = None,
        max_key_trials: int = MAX_KEY_TRIALS,
    ) -> None:
        resolver = as_resolver(keys)
        _check_options(subject=subject, typ=typ, max_size=max_size, clock=clock)
        required_names = _required_names(required, with_iat=max_age is not None)
        issuers = _strings(issuer, "issuer")
        audiences = _strings(audience, "audience")
        need = set(required_names)
        if issuers is not None:
            need.add("iss")
        if audiences is not None:
            need.add("aud")
        if subject is not None:
            need.add("sub")
        values: dict[str, object] = {
            "algorithms": signature_algorithms(algorithms),
            "_resolver": resolver,
            "_static": isinstance(resolver, KeySet),
            "_issuers": issuers,
            "_aud": audiences,
            "_need": frozenset(need),
            "_other_required": tuple(n for n in required_names if n not in _CHECKED_CLAIMS),
            "_sub": subject,
            "_leeway": _seconds(leeway, "leeway"),
            "_required": required_names,
            "_typ": _normalize_typ(typ) if typ is not None else None,
            "_max_age": _seconds(max_age, "max_age") if max_age is not None else None,
            "_max_size": max_size,
            "_max_trials": int_option(max_key_trials, "max_key_trials"),
            "_clock": clock,
            "_denylist": None,
            "_denylist_async": False,
            "_plain": None,
            "_cache": {},
        }
        checked = check_store_or_async(denylist, "denylist")
        if checked is not None:
            # averify() runs the same checks on a twin without the denylist (sharing the
            # header table), then consults the denylist itself, awaiting an async one.
            plain = object.__new__(JWTVerifier)
            for name, value in values.items():
                object.__setattr__(plain, name, value)
            values["_denylist"] = checked
            values["_denylist_async"] = is_async(checked, "add", "contains")
            values["_plain"] = plain
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("JWTVerifier is immutable")

    def __repr__(self) -> str:
        return f"JWTVerifier(algorithms={sorted(self.algorithms)!r})"

    def _header(self, head: bytes) -> tuple[dict[str, Any], _Candidates]:
        header = parse_protected(head)
        alg, b64 = check_jws_header(header, allowed=self.algorithms)
        if not b64:
            raise MalformedToken("a JWT cannot use an unencoded payload (b64: false)")
        if self._typ is not None:
            typ = header.get("typ")
            if typ is None:
                raise InvalidTokenType("typ header missing", claim="typ")
            if _normalize_typ(typ) != self._typ:
                raise InvalidTokenType("typ header does not match", claim="typ")
        return header, verification_keys(
            self._resolver, header.get("kid"), alg, limit=self._max_trials
        )

    def verify(self, token: str | bytes, *, now: Instant | None = None) -> dict[str, Any]:
        """Verify a compact JWT and return its claims.

        Args:
            token: The compact JWT.
            now: The current time: an aware datetime or UNIX seconds (the same values as every
                ``now=`` in authcore); default: the verifier's clock or the system clock.

        Returns:
            The claims.

        Raises:
            TokenTooLarge, MalformedToken, DecodeError: Structure or encoding.
            AlgorithmNotAllowed, KeyNotFound, InvalidSignature: Header, key or signature.
            InvalidClaim: A claim check failed (``ExpiredToken``, ``ImmatureToken``,
                ``InvalidIssuer``, ``InvalidAudience``, ``MissingClaim``, ``InvalidTokenType``;
                with a denylist, ``MissingClaim`` for a token without ``jti``).
            Revoked: The token's ``jti`` is on the denylist.
            ConfigurationError: If ``now`` is not an aware datetime or UNIX seconds.

        .. versionadded:: 0.1.0
        .. versionchanged:: 0.1.0
           ``now`` also takes UNIX seconds; a token with a ``Bearer`` prefix or a trailing
           newline is refused with a message saying so.
        """
        if type(token) is str and len(token) <= self._max_size:
            try:
                raw = token.encode("ascii")
            except UnicodeEncodeError:
                raise MalformedToken("token is not ASCII") from None
        else:
            raw = as_ascii(token, self._max_size)
        # One C pass: only base64url characters and exactly two dots (compact_alphabet_ok).
        if raw.translate(None, B64URL_ALPHABET) != b"..":
            _reject_compact(raw)
        signing_input, _, sig_seg = raw.rpartition(b".")
        head, _, payload_seg = signing_input.partition(b".")
        cache = self._cache
        entry = cache.get(head)
        signature = b64url_decode_known_alphabet(sig_seg, "signature")
        single = entry[2] if entry is not None else None
        if single is not None:
            single(signing_input, signature)  # static keys, header seen before: the hot path
        else:
            self._verify_slow(entry, head, signing_input, signature)
        claims = json_loads(b64url_decode_known_alphabet(payload_seg, "payload"), what="payload")
        if type(claims) is not dict:
            raise MalformedToken("JWT payload is not a JSON object")
        self._check_claims(claims, now)
        denylist = self._denylist
        return claims if denylist is None else self._not_revoked(denylist, claims, now)

    async def averify(self, token: str | bytes, *, now: Instant | None = None) -> dict[str, Any]:
        """:meth:`verify` from async code: an ``async`` denylist is awaited.

        The same checks, in the same order, with the same errors.  Without a denylist, or
        with a synchronous one, it does what :meth:`verify` does (a synchronous store's
        lookup then blocks the event loop for its duration, as in :meth:`verify`).

        .. versionadded:: 0.1.0
        """
        plain = self._plain
        if plain is None:  # no denylist
            return self.verify(token, now=now)
        claims = plain.verify(token, now=now)
        await acheck_not_revoked(
            self._denylist,  # type: ignore[arg-type]  # set with _plain
            claims,
            now=as_datetime(self._now(now)),
        )
        return claims

    def _now(self, now: Instant | None) -> Instant | None:
        return self._clock.now() if now is None and self._clock is not None else now

    def _not_revoked(
        self,
        denylist: OneTimeStore | AsyncOneTimeStore,
        claims: dict[str, Any],
        now: Instant | None,
    ) -> dict[str, Any]:
        if self._denylist_async:
            raise ConfigurationError(
                f"the denylist ({type(denylist).__name__}) is async: await "
                "verifier.averify(token) instead of verify(token) (AsyncAuthenticator and "
                "AsyncSessionIssuer do)"
            )
        check_not_revoked(denylist, claims, now=as_datetime(self._now(now)))  # type: ignore[arg-type]  # not async
        return claims

    def _verify_slow(
        self, entry: _CacheEntry | None, head: bytes, signing_input: bytes, signature: bytes
    ) -> None:
        if entry is None:
            header, candidates = self._header(head)
        else:
            header, cached, _ = entry
            candidates = (
                cached
                if cached is not None
                else verification_keys(
                    self._resolver, header.get("kid"), header["alg"], limit=self._max_trials
                )
            )
        if len(candidates) == 1:
            candidates[0][1](signing_input, signature)
        else:
            verify_with(candidates, signing_input, signature)
        if entry is None:
            # Remembered only now that a signature under this header has verified.  Keys are
            # remembered only when they cannot change (a KeySet); resolvers are asked each time.
            cache = self._cache
            if len(cache) >= _HEADER_CACHE_SIZE:
                cache.clear()
            if self._static:
                single = candidates[0][1] if len(candidates) == 1 else None
                cache[head] = (header, candidates, single)
            else:
                cache[head] = (header, None, None)

    def _check_claims(self, claims: dict[str, Any], now: Instant | None) -> None:  # noqa: C901, PLR0912, PLR0915
        if now is None:
            t = self._clock.now().timestamp() if self._clock is not None else unix_now()
        else:
            # The same values as as_unix(now), with aware datetimes (the usual case) inline.
            t = (
                now.timestamp()
                if type(now) is dt.datetime and now.utcoffset() is not None
                else as_unix(now)
            )
        leeway = self._leeway
        need = self._need
        get = claims.get
        exp = get("exp")
        if exp is not None:
            if type(exp) not in _NUMBERS:
                raise InvalidClaim("exp is not a NumericDate (a JSON number)", claim="exp")
            if t - leeway >= exp:
                raise ExpiredToken("exp is in the past", claim="exp")
        elif "exp" in need or "exp" in claims:
            _missing_or_null(claims, "exp")
        nbf = get("nbf")
        if nbf is not None:
            if type(nbf) not in _NUMBERS:
                raise InvalidClaim("nbf is not a NumericDate (a JSON number)", claim="nbf")
            if nbf > t + leeway:
                raise ImmatureToken("nbf is in the future", claim="nbf")
        elif "nbf" in need or "nbf" in claims:
            _missing_or_null(claims, "nbf")
        iat = get("iat")
        if iat is not None:
            if type(iat) not in _NUMBERS:
                raise InvalidClaim("iat is not a NumericDate (a JSON number)", claim="iat")
            if iat > t + leeway:
                raise ImmatureToken("iat is in the future", claim="iat")
            if self._max_age is not None and t - leeway > iat + self._max_age:
                raise ExpiredToken("iat is older than max_age", claim="iat")
        elif "iat" in need or "iat" in claims:
            _missing_or_null(claims, "iat")
        iss = get("iss")
        if iss is not None:
            if type(iss) is not str:
                raise InvalidClaim("iss is not a string", claim="iss")
            if self._issuers is not None and iss not in self._issuers:
                raise InvalidIssuer("iss is not an expected issuer", claim="iss")
        elif "iss" in need or "iss" in claims:
            _missing_or_null(claims, "iss")
        sub = get("sub")
        if sub is not None:
            if type(sub) is not str:
                raise InvalidClaim("sub is not a string", claim="sub")
            if self._sub is not None and sub != self._sub:
                raise InvalidClaim("sub is not the expected subject", claim="sub")
        elif "sub" in need or "sub" in claims:
            _missing_or_null(claims, "sub")
        aud = get("aud")
        if aud is not None:
            if type(aud) is str:
                values: Iterable[object] = (aud,)
            elif type(aud) is list and aud and all(type(a) is str for a in aud):
                values = aud
            else:
                raise InvalidAudience("aud is not a string or array of strings", claim="aud")
            if self._aud is None:
                raise InvalidAudience("token has an audience but none is expected", claim="aud")
            if self._aud.isdisjoint(values):
                raise InvalidAudience("aud does not contain an expected audience", claim="aud")
        elif "aud" in need or "aud" in claims:
            _missing_or_null(claims, "aud")
        jti = get("jti")
        if jti is not None and type(jti) is not str:
            raise InvalidClaim("jti is not a string", claim="jti")
        for name in self._other_required:
            if name not in claims:
                raise MissingClaim(f"{name} is missing", claim=name)


def _missing_or_null(claims: Mapping[str, Any], name: str) -> None:
    if name in claims:
        raise InvalidClaim(f"{name} is null", claim=name)
    raise MissingClaim(f"{name} is missing", claim=name)


def decode(
    token: str | bytes,
    keys: JWK | KeySet | KeyResolver | Sequence[JWK],
    *,
    algorithms: Collection[str],
    issuer: str | Iterable[str] | None = None,
    audience: str | Iterable[str] | None = None,
    subject: str | None = None,
    leeway: float | dt.timedelta = 0,
    required: Iterable[str] = ("exp",),
    typ: str | None = None,
    max_age: float | dt.timedelta | None = None,
    now: Instant | None = None,
    max_size: int = MAX_TOKEN_SIZE,
    denylist: OneTimeStore | None = None,
    max_key_trials: int = MAX_KEY_TRIALS,
) -> dict[str, Any]:
    """Verify a JWT once and return its claims (see :class:`JWTVerifier` for the checks).

    Build a :class:`JWTVerifier` instead when verifying many tokens with the same settings.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.1.0
       ``denylist`` (a :class:`~authcore.onetime.OneTimeStore`), as on :class:`JWTVerifier`.
    """
    check_store(denylist, "denylist")  # synchronous only: a JWTVerifier's averify awaits
    verifier = JWTVerifier(
        keys,
        algorithms=algorithms,
        issuer=issuer,
        audience=audience,
        subject=subject,
        leeway=leeway,
        required=required,
        typ=typ,
        max_age=max_age,
        max_size=max_size,
        denylist=denylist,
        max_key_trials=max_key_trials,
    )
    return verifier.verify(token, now=now)


def _claims_json(claims: Mapping[str, Any]) -> bytes:
    if type(claims) is not dict and not isinstance(claims, Mapping):
        raise EncodeError("claims must be a mapping")
    try:
        # str.join raises TypeError on the first name that is not a str, in C: json.dumps
        # would silently turn int/float/bool/None names into strings.
        "".join(claims)
    except TypeError:
        raise EncodeError("claim names must be strings") from None
    data: Mapping[str, Any] = claims
    for name in _TIME_CLAIMS:
        value = claims.get(name)
        if value is None or type(value) is int:
            continue
        if isinstance(value, dt.datetime):
            if data is claims:
                data = dict(claims)
            data[name] = int(ensure_aware(value, name=name).timestamp())  # type: ignore[index]
        elif (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise EncodeError(f"{name} must be a number or an aware datetime")
    try:
        return _encode_json(data).encode("utf-8")
    except (TypeError, ValueError, RecursionError, UnicodeEncodeError) as exc:
        raise EncodeError(f"claims are not JSON-serializable ({type(exc).__name__})") from None


def _b64(data: bytes) -> bytes:
    return b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=")


def encode(claims: Mapping[str, Any], key: JWK, *, headers: Mapping[str, Any] | None = None) -> str:
    """Sign ``claims`` as a compact JWT.

    Args:
        claims: The claims; ``exp``, ``nbf`` and ``iat`` may be aware datetimes.
        key: The signing key (its ``alg`` is used unless ``headers`` names one).
        headers: Extra protected header members (``typ`` defaults to ``"JWT"``).

    Raises:
        EncodeError: If the claims or headers cannot be encoded.
        UnsupportedAlgorithm: If the key cannot sign.

    .. versionadded:: 0.1.0
    """
    if type(key) is not JWK:
        raise ConfigurationError("key must be a JWK")
    memo = key_memo(key)
    cached = memo.get("jwt-header") if headers is None else None
    if cached is None:
        alg, header = protected_header(key, {"typ": "JWT", **mapping_option(headers, "headers")})
        if header.get("b64", True) is not True:
            raise EncodeError("a JWT cannot use an unencoded payload (b64: false)")
        head = b64url_encode(json_dumps(header)).encode("ascii") + b"."
        cached = (head, key_signer(key, alg)[1])
        if headers is None:
            memo["jwt-header"] = cached
    head, signer = cached
    signing_input = head + _b64(_claims_json(claims))
    return (signing_input + b"." + _b64(signer(signing_input))).decode("ascii")


@dataclass(frozen=True, slots=True, kw_only=True)
class UnverifiedJWT:
    """A JWT's header and claims, **not verified**: for inspection and routing only.

    .. versionadded:: 0.1.0
    """

    header: dict[str, Any]
    claims: dict[str, Any]


def decode_unverified(token: str | bytes, *, max_size: int = MAX_TOKEN_SIZE) -> UnverifiedJWT:
    """Parse a JWT **without verifying anything** (no signature, no claim check).

    Use it to look at a token (for example its ``iss`` or ``kid``, to pick a verifier), never
    to trust one.

    Raises:
        TokenTooLarge, MalformedToken, DecodeError: If it cannot be parsed.

    .. versionadded:: 0.1.0
    """
    raw = as_ascii(token, max_size)
    head, payload_seg, _ = split_compact(raw, 3)
    header = parse_protected(head)
    claims = json_loads(b64url_decode(payload_seg, what="payload"), what="payload")
    if not isinstance(claims, dict):
        raise MalformedToken("JWT payload is not a JSON object")
    return UnverifiedJWT(header=header, claims=claims)
