"""DPoP: proof-of-possession for OAuth tokens (RFC 9449), both halves.

* Client: :class:`DPoPKey` (ES256 or EdDSA, generated or loaded from a
  :class:`~authcore.jose.JWK`) makes proofs with :meth:`DPoPKey.proof` (section 4.2).
* Server: :func:`verify_proof` runs every check of RFC 9449 section 4.3, in its order, and the
  ``jti`` replay check of section 11.1 last; :class:`HMACNonces` issues and checks server nonces
  (section 8) without state.

What :func:`verify_proof` checks (each one has its own test):

1. exactly one ``DPoP`` header field (section 4.3 item 1); its size is capped before any work;
2. it is a compact JWS (item 2) whose protected header has ``typ`` ``dpop+jwt`` (item 4), an
   ``alg`` that is asymmetric and in the allow-list (item 5), and a ``jwk`` with **public**
   members only (item 7: ``d``, ``p``, ``q``, ``dp``, ``dq``, ``qi``, ``oth`` and ``k`` are
   refused before the key is even loaded);
3. the signature verifies with that ``jwk`` through :func:`authcore.jose.jws.verify` (item 6):
   the header key is used here, and only here, because the proof is about that key;
4. ``jti``, ``htm``, ``htu`` and ``iat`` are present and typed (item 3);
5. ``htm`` equals the request method (item 8) and ``htu`` the request URI (item 9) after
   normalisation: scheme and host lower-cased, default port removed, empty path as ``/``,
   query and fragment ignored; anything but ``http``/``https`` or with userinfo is refused;
6. with a nonce source, ``nonce`` is present and current, else
   :class:`~authcore.errors.UseDPoPNonce` carrying the nonce to send (item 10);
7. ``iat`` lies within ``iat_window`` seconds of ``now``, in both directions (item 11);
8. with an access token, ``ath`` equals base64url(SHA-256(token)) and, with ``jkt``, the
   proof key's RFC 7638 thumbprint equals the token's ``cnf.jkt`` (item 12, section 6.1);
9. the ``jti`` was not seen before for this key within the window (section 11.1), through a
   :class:`~authcore.onetime.OneTimeStore`; the key is ``"dpop:"`` plus the digest of the key
   thumbprint and the ``jti``.

What it does **not** check: that the access token itself is valid or DPoP-bound (the
resource server does that, see :mod:`authcore.oauth.resource`), and anything about claims it
does not name.  Every failure is :class:`~authcore.errors.InvalidDPoPProof` (or
:class:`~authcore.errors.UseDPoPNonce`), with the failing check in ``reason``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
import secrets
import struct
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import (
    TYPE_CHECKING,
    Any,
    Final,
    NoReturn,
    Protocol,
    cast,
    final,
    runtime_checkable,
)

from authcore._ct import bytes_eq
from authcore._encoding import b64url_decode, b64url_encode, json_loads
from authcore._frozen import frozen_builder
from authcore._kinds import is_async, store_answer
from authcore._options import int_option, is_choice, seconds_option
from authcore.clock import as_datetime, as_unix
from authcore.errors import (
    AuthcoreError,
    ConfigurationError,
    DecodeError,
    InvalidDPoPProof,
    InvalidSignature,
    MalformedHeader,
    MalformedRequest,
    UnsupportedAlgorithm,
    UseDPoPNonce,
)
from authcore.http import Request, split_url
from authcore.jose import JWK, PRIVATE_MEMBERS, SIGNATURE_ALGORITHMS, KeyType, jws, jwt
from authcore.onetime import OneTimeStore, check_store

if TYPE_CHECKING:
    from authcore.clock import Instant

__all__ = [
    "DEFAULT_ALGORITHMS",
    "DEFAULT_IAT_WINDOW",
    "MAX_PROOF_SIZE",
    "DPoPKey",
    "HMACNonces",
    "NonceSource",
    "VerifiedProof",
    "access_token_hash",
    "normalize_htu",
    "verify_proof",
]

DEFAULT_ALGORITHMS: Final = ("ES256", "EdDSA")
"""The proof algorithms accepted unless the caller names others (asymmetric only)."""

DEFAULT_IAT_WINDOW: Final = 300.0
"""Seconds a proof's ``iat`` may differ from ``now``, in either direction."""

MAX_PROOF_SIZE: Final = 4096
"""Cap on a ``DPoP`` header value in characters, checked before any other work."""

_MAX_JTI: Final = 256
_TYP: Final = "dpop+jwt"
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_KEY_ALGS: Final = frozenset({"ES256", "EdDSA"})
_NONCE_MAC_SIZE: Final = 16


_DESCRIPTION: Final = "Invalid DPoP proof"


def _bad(reason: str) -> InvalidDPoPProof:
    """The error for a failed check: the detail in ``reason``, a fixed text for the peer."""
    return InvalidDPoPProof(reason, description=_DESCRIPTION)


def access_token_hash(access_token: str) -> str:
    """Return ``ath``: base64url(SHA-256(ASCII access token)) (RFC 9449 section 4.2).

    Raises:
        InvalidDPoPProof: If the token is not ASCII text.

    .. versionadded:: 0.1.0
    """
    if not isinstance(cast("object", access_token), str) or not access_token.isascii():
        raise _bad("access token is not ASCII text")
    return b64url_encode(hashlib.sha256(access_token.encode("ascii")).digest())


def normalize_htu(url: str) -> str:
    """Normalise a URI for the ``htu`` comparison (RFC 9449 section 4.3 item 9).

    Scheme and host are lower-cased, the scheme's default port is removed, an empty path
    becomes ``/``, and the query and fragment are dropped.

    Raises:
        InvalidDPoPProof: If it is not an absolute ``http``/``https`` URI with a host and no
            userinfo.

    .. versionadded:: 0.1.0
    """
    if not isinstance(cast("object", url), str) or not url.isascii() or len(url) > MAX_PROOF_SIZE:
        raise _bad("htu is not an ASCII URI")
    return _normalized(url)


@functools.lru_cache(maxsize=256)
def _normalized(url: str) -> str:
    # Pure and called twice per proof with the few URLs a server has: memoized (bounded;
    # an error is raised again each time, never cached).
    try:
        parts = split_url(url)
        scheme = parts.scheme.lower()
        host = parts.hostname
        port = parts.port
    except ValueError:
        raise _bad("htu is not a valid URI") from None
    if scheme not in _DEFAULT_PORTS or not host:
        raise _bad("htu is not an absolute http(s) URI")
    if "@" in parts.netloc:
        raise _bad("htu has userinfo")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}{parts.path or '/'}"


@final
class DPoPKey:
    """A client's DPoP key: makes proofs (RFC 9449 section 4.2).

    Build one with :meth:`generate` or :meth:`from_jwk`; keep it for the lifetime of the
    tokens bound to it (the server binds them to :attr:`thumbprint`).

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_key", "_public", "_thumbprint")

    _key: JWK
    _public: dict[str, Any]
    _thumbprint: str

    def __init__(self) -> None:
        raise TypeError("use DPoPKey.generate or DPoPKey.from_jwk")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("DPoPKey is immutable")

    @classmethod
    def generate(cls, alg: str = "ES256") -> DPoPKey:
        """Generate a fresh key for ``alg`` (``"ES256"`` or ``"EdDSA"``, Ed25519).

        Raises:
            UnsupportedAlgorithm: For any other ``alg``.
        """
        if not is_choice(alg, _KEY_ALGS):
            raise UnsupportedAlgorithm(f"DPoP keys are ES256 or EdDSA, not {str(alg)[:20]!r}")
        return cls.from_jwk(JWK.generate(alg))

    @classmethod
    def from_jwk(cls, key: JWK) -> DPoPKey:
        """Use an existing private key (an ES256 P-256 key or an Ed25519 EdDSA key).

        Raises:
            ConfigurationError: If ``key`` is not a private EC P-256 or Ed25519 key, or is
                bound to another algorithm.
        """
        if not isinstance(cast("object", key), JWK) or not key.is_private or key.is_symmetric:
            raise ConfigurationError("a DPoP key must be a private asymmetric JWK")
        if key.kty is KeyType.EC and key.crv == "P-256":
            alg = "ES256"
        elif key.kty is KeyType.OKP and key.crv == "Ed25519":
            alg = "EdDSA"
        else:
            raise ConfigurationError("a DPoP key is EC P-256 (ES256) or Ed25519 (EdDSA)")
        if key.alg not in (None, alg):
            raise ConfigurationError(f"the key is bound to {key.alg}, not {alg}")
        members = key.to_dict(private=True)
        # Only what RFC 7638 hashes goes into the proof's jwk: no kid, use or key_ops.
        material: dict[str, object] = {
            m: members[m] for m in ("kty", "crv", "x", "y", "d") if m in members
        }
        signing = JWK.from_dict(material, alg=alg)
        self = object.__new__(cls)
        public = signing.public().to_dict()
        public.pop("alg", None)
        object.__setattr__(self, "_key", signing)
        object.__setattr__(self, "_public", public)
        object.__setattr__(self, "_thumbprint", signing.thumbprint())
        return self

    @property
    def alg(self) -> str:
        """The proof algorithm (``"ES256"`` or ``"EdDSA"``)."""
        return self._key.alg or ""

    @property
    def thumbprint(self) -> str:
        """The RFC 7638 thumbprint of the public key, the ``jkt`` tokens are bound to."""
        return self._thumbprint

    def public_jwk(self) -> JWK:
        """Return the public key (what the server sees in every proof)."""
        return self._key.public()

    def __repr__(self) -> str:
        return f"DPoPKey(alg={self.alg!r}, jkt={self._thumbprint!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("DPoPKey objects are not picklable")

    def proof(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        nonce: str | None = None,
        now: Instant | None = None,
        jti: str | None = None,
    ) -> str:
        """Make a proof for one request: the value of its ``DPoP`` header.

        Args:
            method: The HTTP method (``htm``), upper-cased.
            url: The request URL; ``htu`` is it without query and fragment.
            access_token: The access token sent with the request (adds ``ath``).
            nonce: The server's latest ``DPoP-Nonce`` value.
            now: The time for ``iat`` (default: the system clock).
            jti: The proof's unique id (default: 128 random bits).

        Raises:
            ConfigurationError: If the method, URL or another argument is unusable.
        """
        if not isinstance(cast("object", method), str) or not method:
            raise ConfigurationError("method must be a non-empty string")
        try:
            htu = _strip_query(url)
        except InvalidDPoPProof as exc:
            raise ConfigurationError(f"url: {exc.reason}") from None
        claims: dict[str, Any] = {
            "jti": jti if jti is not None else b64url_encode(secrets.token_bytes(16)),
            "htm": method.upper(),
            "htu": htu,
            "iat": math.floor(as_unix(now)),
        }
        if not isinstance(claims["jti"], str) or not claims["jti"]:
            raise ConfigurationError("jti must be a non-empty string")
        if access_token is not None:
            try:
                claims["ath"] = access_token_hash(access_token)
            except InvalidDPoPProof:
                raise ConfigurationError("access_token must be ASCII text") from None
        if nonce is not None:
            if not isinstance(cast("object", nonce), str) or not nonce:
                raise ConfigurationError("nonce must be a non-empty string")
            claims["nonce"] = nonce
        return jwt.encode(claims, self._key, headers={"typ": _TYP, "jwk": self._public})


def _strip_query(url: object) -> str:
    """``url`` without query and fragment (the client's ``htu``), checked like the server."""
    if not isinstance(url, str):
        raise _bad("url is not a string")
    normalize_htu(url)
    return url.split("#", 1)[0].split("?", 1)[0]


# ----------------------------------------------------------------------------- nonces


@runtime_checkable
class NonceSource(Protocol):
    """Where server nonces come from (RFC 9449 section 8): issue the current one, check one.

    .. versionadded:: 0.1.0
    """

    def current(self, *, now: float) -> str:
        """Return the nonce to send now (``DPoP-Nonce``)."""
        ...

    def check(self, nonce: str, *, now: float) -> bool:
        """Whether ``nonce`` is still accepted at ``now``."""
        ...


@final
class HMACNonces:
    """Stateless rotating nonces: a time step and its HMAC-SHA-256 (RFC 9449 section 8).

    The nonce of step ``n = floor(now / rotation)`` is base64url(``n`` as 8 bytes || the first
    16 bytes of HMAC(secret, ``n``)).  A nonce is accepted during its own step and the next
    one, so every nonce lives between ``rotation`` and twice that; servers sharing the secret
    agree without shared state.

    Args:
        secret: At least 32 random bytes, shared by every server that checks the nonces.
        rotation: Seconds between new nonces (default 300).

    Raises:
        ConfigurationError: On a short secret or a non-positive rotation.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_rotation", "_secret")

    def __init__(self, secret: bytes, *, rotation: float = 300.0) -> None:
        if not isinstance(cast("object", secret), bytes) or len(secret) < 32:  # noqa: PLR2004 - SHA-256 size
            raise ConfigurationError("the nonce secret must be at least 32 random bytes")
        self._secret = secret
        self._rotation = seconds_option(rotation, "rotation")

    def __repr__(self) -> str:
        return f"HMACNonces(rotation={self._rotation!r})"

    def _nonce(self, step: int) -> str:
        counter = struct.pack(">q", step)
        mac = hmac.digest(self._secret, b"dpop-nonce:" + counter, "sha256")
        return b64url_encode(counter + mac[:_NONCE_MAC_SIZE])

    def current(self, *, now: float) -> str:
        """Return the nonce of the current step."""
        return self._nonce(math.floor(now / self._rotation))

    def check(self, nonce: str, *, now: float) -> bool:
        """Whether ``nonce`` is the current or the previous step's nonce."""
        if not isinstance(cast("object", nonce), str) or len(nonce) != 32:  # noqa: PLR2004 - 24 bytes encoded
            return False
        try:
            raw = b64url_decode(nonce, what="nonce")
        except DecodeError:
            return False
        (step,) = struct.unpack(">q", raw[:8])
        current = math.floor(now / self._rotation)
        if step not in (current, current - 1):
            return False
        return bytes_eq(nonce.encode("ascii"), self._nonce(step).encode("ascii"))


# ----------------------------------------------------------------------------- verification


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedProof:
    """A DPoP proof that passed every check.

    Attributes:
        jkt: The RFC 7638 thumbprint of the proof key (what ``cnf.jkt`` binds to).
        jti: The proof's unique id.
        claims: The proof's claims (read-only).
        key: The proof's public key.
        fresh_nonce: A newer nonce to send in ``DPoP-Nonce`` when the presented one is
            about to rotate out (``None`` without a nonce source or when it is current).

    .. versionadded:: 0.1.0
    """

    jkt: str
    jti: str
    claims: Mapping[str, Any] = field(repr=False)
    key: JWK = field(repr=False)
    fresh_nonce: str | None = None


# VerifiedProof(...) without its frozen __init__ (authcore._frozen says how and why).
_new_verified_proof: Final = frozen_builder(VerifiedProof)


def _check_algorithms(algorithms: object) -> frozenset[str]:
    if type(algorithms) is frozenset and algorithms in _CHECKED_ALGORITHMS:
        return algorithms  # a resource server passes its checked set on every request
    if isinstance(algorithms, (str, bytes)) or not isinstance(algorithms, Collection):
        raise ConfigurationError("algorithms must be a list of algorithm names")
    names = frozenset(algorithms)
    if not names:
        raise ConfigurationError("algorithms is empty")
    for name in names:
        spec = SIGNATURE_ALGORITHMS.get(name) if isinstance(name, str) else None
        if spec is None:
            raise ConfigurationError(f"{str(name)[:20]!r} is not a JWS algorithm")
        if spec.kty is KeyType.OCT:
            raise ConfigurationError(f"{name} is symmetric: DPoP needs an asymmetric algorithm")
    if len(_CHECKED_ALGORITHMS) < _MAX_CHECKED:
        _CHECKED_ALGORITHMS.add(names)
    return names


_CHECKED_ALGORITHMS: Final[set[frozenset[str]]] = set()
"""Algorithm sets that passed :func:`_check_algorithms` (a few per process)."""
_MAX_CHECKED: Final = 64


def _single_proof(source: object, max_size: int) -> str:
    int_option(max_size, "max_size")
    if isinstance(source, Request):
        values: Sequence[object] = source.headers.get_all("dpop")
    elif isinstance(source, str):
        values = (source,)
    elif isinstance(source, Sequence):
        values = source
    else:
        raise ConfigurationError("pass a Request or the DPoP header values")
    if len(values) != 1:
        raise _bad("no DPoP header" if not values else "more than one DPoP header")
    value = values[0]
    if not isinstance(value, str):
        raise _bad("DPoP header is not text")
    if len(value) > max_size:
        raise _bad("DPoP proof is too large")
    if "," in value:
        raise _bad("more than one DPoP header")
    return value.strip(" \t")


_MAX_CACHED_MEMBERS: Final = 8
"""Members of a cacheable proof ``jwk`` (EC and OKP keys have four or five, all strings)."""


@functools.lru_cache(maxsize=256)
def _public_key(alg: str, members: tuple[tuple[str, str], ...]) -> JWK:
    """The proof key for these exact members, built once per distinct key.

    A client signs every proof with the same key; building it from the JWK costs more than
    the signature check (``cryptography`` validates the point, a scalar multiplication).  The
    cache is keyed by the exact member strings, holds only keys that loaded (errors are not
    cached), and is bounded, so a flood of distinct keys costs what it costs uncached.
    """
    return JWK.from_dict(dict(members), alg=alg)


def _proof_key(header: Mapping[str, Any], allowed: frozenset[str]) -> tuple[str, JWK]:
    typ = header.get("typ")
    if typ != _TYP:
        raise _bad("typ is not dpop+jwt")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in allowed:
        raise _bad("alg is not an allowed asymmetric algorithm")
    members = header.get("jwk")
    if not isinstance(members, dict):
        raise _bad("jwk header is missing or not an object")
    if not PRIVATE_MEMBERS.isdisjoint(members):
        raise _bad("jwk header carries private key members")
    try:
        if len(members) <= _MAX_CACHED_MEMBERS and all(
            isinstance(v, str) for v in members.values()
        ):
            key = _public_key(alg, tuple(sorted(members.items())))
        else:
            key = JWK.from_dict(members, alg=alg)
    except AuthcoreError:
        raise _bad("jwk header is not a usable public key for alg") from None
    if key.is_private or key.is_symmetric:  # pragma: no cover - members checked above
        raise _bad("jwk header is not a public key")
    return alg, key


def _claims(payload: bytes) -> dict[str, Any]:
    try:
        claims = json_loads(payload, what="DPoP payload")
    except DecodeError as exc:
        raise _bad(exc.reason) from None
    if not isinstance(claims, dict):
        raise _bad("DPoP payload is not a JSON object")
    for name in ("jti", "htm", "htu"):
        value = claims.get(name)
        if not isinstance(value, str) or not value:
            raise _bad(f"{name} is missing or not a string")
    if len(claims["jti"]) > _MAX_JTI:
        raise _bad("jti is too long")
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, (int, float)):
        raise _bad("iat is missing or not a number")
    return claims


def _request_target(source: object, method: str | None, url: str | None) -> tuple[str, str]:
    if isinstance(source, Request):
        method = method if method is not None else source.method
        url = url if url is not None else source.url
    if not isinstance(method, str) or not method or not isinstance(url, str) or not url:
        raise ConfigurationError("method and url are required with header values")
    try:
        return method.upper(), normalize_htu(url)
    except InvalidDPoPProof as exc:
        raise MalformedRequest(f"request URL: {exc.reason}") from None


def _check_options(replay: object, nonces: object, iat_window: object) -> OneTimeStore:
    store = check_store(replay, "replay")
    if store is None:
        raise ConfigurationError("replay is required (a OneTimeStore)")
    _check_tuning(nonces, iat_window)
    return store


def _check_nonces(nonces: object, name: str) -> None:
    """Refuse what is neither ``None`` nor a synchronous :class:`NonceSource`."""
    if nonces is not None and not isinstance(nonces, NonceSource):
        raise ConfigurationError(f"{name} must be a NonceSource (current, check)")
    if is_async(nonces, "current", "check"):  # an un-awaited check() is truthy: any nonce
        raise ConfigurationError(f"{name} must be a synchronous NonceSource (current, check)")


def _check_tuning(nonces: object, iat_window: object) -> None:
    _check_nonces(nonces, "nonces")
    seconds_option(iat_window, "iat_window")


def verify_proof(
    source: Request | str | Sequence[str],
    *,
    replay: OneTimeStore,
    method: str | None = None,
    url: str | None = None,
    algorithms: Collection[str] = DEFAULT_ALGORITHMS,
    access_token: str | None = None,
    jkt: str | None = None,
    nonces: NonceSource | None = None,
    iat_window: float = DEFAULT_IAT_WINDOW,
    now: Instant | None = None,
    max_size: int = MAX_PROOF_SIZE,
) -> VerifiedProof:
    """Verify the DPoP proof of one request (RFC 9449 section 4.3); see the module for checks.

    Args:
        source: The :class:`~authcore.http.Request`, or the ``DPoP`` header values received
            (a sequence; a single ``str`` counts as one value).
        replay: Where proof ``jti`` values are remembered until they leave the window.
        method: The request method (default: the request's).
        url: The request URL (default: the request's); required with header values.
        algorithms: The accepted proof algorithms (asymmetric only).
        access_token: The access token presented with the proof (then ``ath`` is required).
        jkt: The access token's ``cnf.jkt`` (then the proof key must have this thumbprint).
        nonces: A nonce source; when given, a current ``nonce`` claim is required.
        iat_window: Seconds ``iat`` may differ from ``now`` either way.
        now: The current time (default: the system clock).
        max_size: Cap on the proof's length, checked before anything else.

    Returns:
        The proof key's thumbprint, the ``jti`` and the claims.

    Raises:
        InvalidDPoPProof: If any check fails (``reason`` names it).
        UseDPoPNonce: If a nonce is required and missing or stale (``nonce`` holds the one
            to send).
        MalformedRequest: If the request URL itself is not an absolute http(s) URL.
        StoreError: If the replay store fails (fail closed).
        ConfigurationError: On unusable options.

    .. versionadded:: 0.1.0
    """
    store = _check_options(replay, nonces, iat_window)
    t = as_unix(now)
    proof, replay_key, expires = _check_proof(
        source,
        method=method,
        url=url,
        algorithms=algorithms,
        access_token=access_token,
        jkt=jkt,
        nonces=nonces,
        iat_window=iat_window,
        now=t,
        max_size=max_size,
    )
    _record(store, replay_key, expires, t)
    return proof


def _record(store: OneTimeStore, key: str, expires: float, now: float) -> None:
    """Record a proof's replay key until ``expires``; raise if it was already there.

    Raises:
        InvalidDPoPProof: The proof was used before.
        StoreError: If the store fails or answers other than a bool.
    """
    added = store.add(key, expires_at=as_datetime(expires), now=as_datetime(now))
    if not store_answer(added, store):
        raise _replayed()


def _replayed() -> InvalidDPoPProof:
    """The error for a proof whose ``jti`` was recorded before."""
    return _bad("jti was used before (replay)")


def _verified(token: str, allowed: frozenset[str], max_size: int) -> tuple[JWK, bytes]:
    """Verify the proof's signature with the key of its own ``jwk`` header; ``(key, payload)``."""
    try:
        return jws._verify_compact_embedded(  # noqa: SLF001 - the key comes from the header
            token, _embedded_key, allowed=allowed, max_size=max_size
        )
    except InvalidDPoPProof:
        raise
    except InvalidSignature:
        raise _bad("signature does not verify with the jwk header") from None
    except AuthcoreError as exc:
        raise _bad(f"not a compact JWT: {getattr(exc, 'reason', '')}") from None


def _embedded_key(header: Mapping[str, Any], alg: str) -> JWK:
    """The proof header's checked key, once the header parsed and ``alg`` passed the allow-list.

    A pure function of the header (the JWS layer remembers its result per exact header).
    """
    if header.get("b64") is False:
        raise _bad("not a compact JWT: b64 is false")
    return _proof_key(header, frozenset((alg,)))[1]


def _check_proof(  # noqa: C901 - one check per RFC 9449 section 4.3 item
    source: Request | str | Sequence[str],
    *,
    method: str | None = None,
    url: str | None = None,
    algorithms: Collection[str] = DEFAULT_ALGORITHMS,
    access_token: str | None = None,
    jkt: str | None = None,
    nonces: NonceSource | None = None,
    iat_window: float = DEFAULT_IAT_WINDOW,
    now: Instant | None = None,
    max_size: int = MAX_PROOF_SIZE,
) -> tuple[VerifiedProof, str, float]:
    """Every check of :func:`verify_proof` but the ``jti`` replay check, which it returns.

    For drivers that reach their one-time store asynchronously (the authorization server):
    the caller must record the returned key until the returned expiry (UNIX seconds) with
    ``add`` and refuse the proof when the key was already there.

    Returns:
        The verified proof, its replay key, and the time until which to remember it.
    """
    allowed = _check_algorithms(algorithms)
    _check_tuning(nonces, iat_window)
    try:
        token = _single_proof(source, max_size)
    except MalformedHeader as exc:  # pragma: no cover - headers parsed by Request already
        raise _bad(exc.reason) from None
    htm, htu = _request_target(source, method, url)
    t = as_unix(now)
    key, payload = _verified(token, allowed, max_size)
    claims = _claims(payload)
    if claims["htm"] != htm:
        raise _bad("htm does not match the request method")
    if normalize_htu(claims["htu"]) != htu:
        raise _bad("htu does not match the request URI")
    fresh: str | None = None
    if nonces is not None:
        presented = claims.get("nonce")
        if not isinstance(presented, str) or not store_answer(
            nonces.check(presented, now=t), nonces
        ):
            raise UseDPoPNonce(
                "nonce missing or stale" if presented is not None else "nonce required",
                nonce=nonces.current(now=t),
                description="Server requires nonce in DPoP proof",
            )
        current = nonces.current(now=t)
        fresh = None if current == presented else current
    elif "nonce" in claims and not isinstance(claims["nonce"], str):
        raise _bad("nonce is not a string")
    iat = float(claims["iat"])
    if abs(t - iat) > iat_window:
        raise _bad("iat is outside the acceptance window")
    if access_token is not None:
        ath = claims.get("ath")
        expected = access_token_hash(access_token)
        if not isinstance(ath, str) or not bytes_eq(ath.encode(), expected.encode()):
            raise _bad("ath does not match the access token")
    thumbprint = key.thumbprint()
    if jkt is not None and not (
        isinstance(cast("object", jkt), str)
        and bytes_eq(jkt.encode("utf-8", "surrogatepass"), thumbprint.encode())
    ):
        raise _bad("proof key does not match the token's cnf.jkt")
    jti: str = claims["jti"]
    digest = hashlib.sha256(thumbprint.encode() + b"\x00" + jti.encode()).digest()
    proof = _new_verified_proof(
        jkt=thumbprint,
        jti=jti,
        claims=MappingProxyType(claims),
        key=key,
        fresh_nonce=fresh,
    )
    return proof, "dpop:" + b64url_encode(digest), max(iat, t) + iat_window + 1
