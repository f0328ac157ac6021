"""JSON Web Encryption: compact and JSON serializations (RFC 7516), nested JWTs (RFC 7519 5.2).

:func:`encrypt` / :func:`decrypt` handle the compact form; :func:`encrypt_json` /
:func:`decrypt_json` the general and flattened JSON forms (RFC 7516 section 7.2) with one or
several recipients, ``aad``, and shared and per-recipient unprotected headers; :func:`encrypt_jwt`
/ :func:`decrypt_jwt` sign-then-encrypt a JWT and decode exactly that nested profile.

Algorithms (RFC 7518): key management RSA-OAEP, RSA-OAEP-256/-384/-512, A128KW/A192KW/A256KW,
A128GCMKW/A192GCMKW/A256GCMKW, ``dir``, ECDH-ES and ECDH-ES+A128KW/A192KW/A256KW over
P-256/P-384/P-521 and X25519/X448 (RFC 8037), PBES2-HS256+A128KW/HS384+A192KW/HS512+A256KW;
content encryption A128GCM/A192GCM/A256GCM and A128CBC-HS256/A192CBC-HS384/A256CBC-HS512.
RSA1_5 is decrypt-only and only when listed explicitly (RFC 7516 section 11.5 handling: a failed
unwrap continues with a random CEK and fails at the tag with the same error).

What :func:`decrypt` checks, in this order: the caller's ``algorithms`` and ``encryptions``
(required, no defaults; :data:`RECOMMENDED_ALGORITHMS` contains neither PBES2 nor RSA1_5), the
size cap (before any other work), the structure (five segments; a three-segment JWS is refused as
such), strict base64url and JSON, the header (``alg`` and ``enc`` allowed, ``zip`` only when
``decompress=True`` and only protected, ``crit`` refused because no extension is understood),
the key (found by ``kid``; bound to ``alg``, or for ``dir`` to ``enc``; ``use`` and ``key_ops``
honoured; type, curve and size fit), every length (``encrypted_key``, ``iv``, ``tag``) before any
cryptography, ``p2c`` within ``[p2c_min, p2c_max]`` before PBKDF2, ``epk`` on the recipient's
curve, then the tag (constant time, before CBC decryption) and the bounded decompression.

Every failure of the cryptography raises :class:`~authcore.errors.DecryptionFailed` with one
fixed reason, whatever went wrong.

What it does **not** check: anything about the plaintext's meaning (``typ``/``cty`` are returned,
not enforced; use :func:`decrypt_jwt` for nested JWTs); header ``jku``, ``jwk``, ``x5u``, ``x5c``
are never used to find or fetch a key.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from functools import partial
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from cryptography.exceptions import InvalidTag

from authcore._encoding import (
    B64URL_ALPHABET,
    b64url_decode,
    b64url_decode_known_segments,
    b64url_encode,
    json_dumps,
)
from authcore._frozen import frozen_builder
from authcore._options import bool_option, int_option, mapping_option
from authcore.errors import (
    AlgorithmNotAllowed,
    ConfigurationError,
    DecodeError,
    DecryptionFailed,
    EncodeError,
    InvalidKeyError,
    KeyNotFound,
    MalformedToken,
    TokenTooLarge,
    UnsupportedAlgorithm,
    VerificationError,
)
from authcore.jose import _core
from authcore.jose._core import (
    TrialBudget,
    algorithm_names,
    as_ascii,
    check_crit,
    check_keys,
    check_string_members,
    json_object,
    parse_protected,
    select_keys,
    split_compact,
    too_much_work,
)
from authcore.jose._jwe_algs import (
    CONTENT_ENCRYPTIONS,
    FAILED,
    KEY_MANAGEMENTS,
    P2C_MAX,
    P2C_MIN,
    CBCKey,
    ContentEncryption,
    ContentKey,
    KeyFamily,
    KeyManagement,
    check_key,
    decrypt_cbc,
    decrypt_content,
    encrypt_content,
    get_content_encryption,
    get_key_management,
    prepare_content_key,
    unwrap_cek,
    wrap_cek,
)
from authcore.jose._jwk import JWK, KeyResolver, KeySet, key_material, key_memo

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping, Sequence

__all__ = [
    "CONTENT_ENCRYPTION_ALGORITHMS",
    "KEY_MANAGEMENT_ALGORITHMS",
    "MAX_DECOMPRESSED",
    "MAX_KEY_TRIALS",
    "MAX_RECIPIENTS",
    "MAX_TOKEN_SIZE",
    "P2C_MAX",
    "P2C_MIN",
    "RECOMMENDED_ALGORITHMS",
    "RECOMMENDED_ENCRYPTIONS",
    "DecryptedJWE",
    "Recipient",
    "decrypt",
    "decrypt_json",
    "decrypt_jwt",
    "encrypt",
    "encrypt_json",
    "encrypt_jwt",
]

T = TypeVar("T")

MAX_TOKEN_SIZE: Final = 1024 * 1024
"""Default cap on a token's length (characters or bytes), applied before any other work."""
MAX_RECIPIENTS: Final = 8
"""Default cap on the recipients of a JWE JSON object, checked before any cryptography."""
MAX_KEY_TRIALS: Final = _core.MAX_KEY_TRIALS
"""Default cap on key unwraps per token (recipients x candidate keys)."""
MAX_DECOMPRESSED: Final = 250_000
"""Default cap on the decompressed plaintext of a ``zip: DEF`` token, in bytes."""

KEY_MANAGEMENT_ALGORITHMS: Final = frozenset(KEY_MANAGEMENTS)
"""Every supported ``alg`` (RSA1_5 only for decryption, and only when listed explicitly)."""
CONTENT_ENCRYPTION_ALGORITHMS: Final = frozenset(CONTENT_ENCRYPTIONS)
"""Every supported ``enc``."""
RECOMMENDED_ALGORITHMS: Final = (
    "RSA-OAEP-256",
    "ECDH-ES",
    "ECDH-ES+A128KW",
    "ECDH-ES+A256KW",
    "A128KW",
    "A256KW",
    "A128GCMKW",
    "A256GCMKW",
    "dir",
)
"""A reasonable ``algorithms`` list.  It contains neither PBES2 nor RSA1_5, on purpose."""
RECOMMENDED_ENCRYPTIONS: Final = ("A128GCM", "A256GCM", "A128CBC-HS256", "A256CBC-HS512")
"""A reasonable ``encryptions`` list."""

# RFC 7516 section 4.1 and RFC 7518 section 4: names the sender may not set through `headers`
# because the algorithm produces them, or the arguments carry them.
_GENERATED: Final = frozenset({"alg", "enc", "zip", "epk", "iv", "tag"})
_REGISTERED: Final = frozenset(
    {
        "alg", "enc", "zip", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty",
        "crit", "epk", "apu", "apv", "iv", "tag", "p2s", "p2c",
    }
)  # fmt: skip
_DERIVE: Final = frozenset({"deriveKey", "deriveBits"})
# key_ops (RFC 7517 section 4.3) that permit each use, by family: (encrypting, decrypting).
_OPS: Final[Mapping[KeyFamily, tuple[frozenset[str], frozenset[str]]]] = MappingProxyType(
    {
        KeyFamily.DIRECT: (frozenset({"encrypt"}), frozenset({"decrypt"})),
        KeyFamily.ECDH_ES: (_DERIVE, _DERIVE),
        KeyFamily.ECDH_ES_KW: (_DERIVE, _DERIVE),
        **dict.fromkeys(
            (
                KeyFamily.RSA1_5,
                KeyFamily.RSA_OAEP,
                KeyFamily.AES_KW,
                KeyFamily.AES_GCM_KW,
                KeyFamily.PBES2,
            ),
            (frozenset({"wrapKey", "encrypt"}), frozenset({"unwrapKey", "decrypt"})),
        ),
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DecryptedJWE:
    """The result of a successful decryption.

    Attributes:
        plaintext: The decrypted (and, if enabled, decompressed) plaintext.
        header: The JOSE header of the recipient that decrypted it (protected, shared
            unprotected and per-recipient members merged), read-only.
        key: The key that decrypted it.
        aad: The JSON serialization's ``aad`` member, decoded (authenticated), else ``None``.

    .. versionadded:: 0.1.0
    """

    plaintext: bytes = field(repr=False)
    header: Mapping[str, Any]
    key: JWK
    aad: bytes | None = field(default=None, repr=False)


# DecryptedJWE(...) without its frozen __init__, which cost about 1 us, an eighth of a whole
# dir decryption (authcore._frozen says how).
_new_decrypted: Final = frozen_builder(DecryptedJWE)


@dataclass(frozen=True, slots=True, kw_only=True)
class Recipient:
    """One recipient of :func:`encrypt_json`.

    Attributes:
        key: The recipient's public (or symmetric) key.
        alg: The key management algorithm; defaults to the key's ``alg``.
        header: Per-recipient unprotected header members (``kid`` is added from the key).

    .. versionadded:: 0.1.0
    """

    key: JWK
    alg: str | None = None
    header: Mapping[str, Any] | None = None


# A checked header, its algorithms, and the read-only view of it handed to callers.
_CachedHeader = tuple[
    dict[str, Any], KeyManagement, ContentEncryption, "MappingProxyType[str, Any]"
]
_SEGMENT_NAMES: Final = ("encrypted key", "iv", "ciphertext", "tag")
# Key-memo slot of a dir key's prepared content key per enc: strings, whose hash is cached.
_CONTENT_KEY_SLOTS: Final = MappingProxyType(
    {name: f"jwe-content-key:{name}" for name in CONTENT_ENCRYPTIONS}
)
_HEADERS_CACHE_SIZE: Final = 256
_CACHED_HEADER_MAX: Final = 512
_POLICIES_PER_KEY: Final = 16


@dataclass(frozen=True, slots=True)
class _Policy:
    """The checked decryption options, and the headers already checked under them."""

    algorithms: frozenset[str]
    encryptions: frozenset[str]
    decompress: bool
    max_decompressed: int
    p2c_min: int
    p2c_max: int
    # Protected header segment -> its checked header; at most _HEADERS_CACHE_SIZE entries.
    headers: dict[bytes, _CachedHeader] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )


# ----------------------------------------------------------------------------- shared helpers


# Lists and sets become tuples so a policy can be cached; strings stay as they are (and are
# then refused by algorithm_names); anything unhashable makes the cache lookup raise TypeError.
_SEQUENCES: Final = frozenset({list, tuple, set, frozenset})


def _policy(  # noqa: PLR0917 - private constructor, called with the public keywords in order
    keys: JWK | KeyResolver,
    algorithms: object,
    encryptions: object,
    decompress: object,
    max_decompressed: object,
    p2c_min: object,
    p2c_max: object,
) -> _Policy:
    """Check the caller's options; the same options with the same keys are checked once.

    The checked policy (with its header cache) is kept on the key or key set it is used with,
    at most :data:`_POLICIES_PER_KEY` of them: callers that keep their keys keep the cache, and
    it goes away with them.  Other resolvers get a fresh policy on each call.
    """
    # Only exact ints are cached: 1.0 == 1 == True must not reuse a checked int's policy, and
    # anything else is refused by _build_policy anyway.
    memo = (
        key_memo(keys)
        if type(max_decompressed) is int
        and type(decompress) is bool
        and type(p2c_min) is int
        and type(p2c_max) is int
        and isinstance(keys, (JWK, KeySet))
        else None
    )
    cache_key = (
        # No typing.cast: it would be a call on every decryption.
        tuple(algorithms) if type(algorithms) in _SEQUENCES else algorithms,  # type: ignore[arg-type]
        tuple(encryptions) if type(encryptions) in _SEQUENCES else encryptions,  # type: ignore[arg-type]
        decompress,
        max_decompressed,
        p2c_min,
        p2c_max,
    )
    policies: dict[tuple[object, ...], _Policy] | None = None
    if memo is not None:
        policies = memo.setdefault("jwe-policies", {})
        try:
            return policies[cache_key]
        except (KeyError, TypeError):
            pass
    # A valid policy always has a hashable key: names are strings and limits are ints.
    policy = _build_policy(algorithms, encryptions, decompress, max_decompressed, p2c_min, p2c_max)
    if policies is not None:
        if len(policies) >= _POLICIES_PER_KEY:
            policies.clear()
        policies[cache_key] = policy
    return policy


def _build_policy(  # noqa: PLR0917 - see _policy
    algorithms: object,
    encryptions: object,
    decompress: object,
    max_decompressed: object,
    p2c_min: object,
    p2c_max: object,
) -> _Policy:
    low = int_option(p2c_min, "p2c_min")
    high = int_option(p2c_max, "p2c_max")
    if low > high:
        raise ConfigurationError("p2c_min is larger than p2c_max")
    return _Policy(
        algorithms=algorithm_names(
            algorithms,
            what="algorithms",
            registry=KEY_MANAGEMENTS,
            example="RSA-OAEP-256",
            kind="JWE algorithm",
        ),
        encryptions=algorithm_names(
            encryptions,
            what="encryptions",
            registry=CONTENT_ENCRYPTIONS,
            example="A256GCM",
            kind="JWE encryption",
        ),
        decompress=bool_option(decompress, "decompress"),
        max_decompressed=int_option(max_decompressed, "max_decompressed"),
        p2c_min=low,
        p2c_max=high,
    )


def _key_problem(
    key: JWK, alg: KeyManagement, enc: ContentEncryption, *, private: bool
) -> str | None:
    """Why ``key`` cannot serve ``alg``/``enc`` (``None`` if it can); memoized on the key.

    JWK objects are immutable, so the answer never changes.  The memo is bounded by the
    registries: one entry per (``alg``, ``enc``, direction) at most.
    """
    fits: dict[tuple[str, str, bool], str | None] = key_memo(key).setdefault("jwe-fits", {})
    slot = (alg.name, enc.name, private)
    try:
        return fits[slot]
    except KeyError:
        pass
    problem = _uncached_key_problem(key, alg, enc, private=private)
    fits[slot] = problem
    return problem


def _uncached_key_problem(
    key: JWK, alg: KeyManagement, enc: ContentEncryption, *, private: bool
) -> str | None:
    bound = key.alg
    # RFC 7518 section 4.5: a `dir` key may instead name the content encryption it is for.
    dir_bound = alg.family is KeyFamily.DIRECT and bound == enc.name
    if bound is not None and bound != alg.name and not dir_bound:
        return f"the key is bound to {bound}, not {alg.name}"
    if key.use not in (None, "enc"):
        return "the key's use is not 'enc'"
    ops = key.key_ops
    if ops is not None and not ops & _OPS[alg.family][private]:
        return "the key's key_ops do not allow this"
    if private and not key.is_private:
        return "decryption needs a private key"
    return check_key(alg, enc, key_material(key), private=private)


def _select_keys(
    resolver: JWK | KeyResolver,
    kid: str | None,
    alg: KeyManagement,
    enc: ContentEncryption,
    limit: int = MAX_KEY_TRIALS,
) -> list[JWK]:
    if isinstance(resolver, JWK):  # one key: select_keys's rules, without its machinery
        if kid is not None and resolver.kid is not None and resolver.kid != kid:
            raise KeyNotFound("no key for this kid")
        if _key_problem(resolver, alg, enc, private=True) is not None:
            raise KeyNotFound(f"the key cannot decrypt {alg.name}/{enc.name}")
        return [resolver]

    def usable(key: JWK) -> JWK | None:
        return key if _key_problem(key, alg, enc, private=True) is None else None

    purpose = f"decrypt {alg.name}/{enc.name}"
    found = select_keys(resolver, kid, usable, purpose=purpose, limit=limit)
    return [key for key, _ in found]


def _b64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise MalformedToken(f"{what} must be a base64url string")
    return b64url_decode(value, what=what)


def _compact_header(head: bytes, policy: _Policy) -> _CachedHeader:
    """Parse and check a protected header; repeated headers come from the policy's cache.

    Only flat headers that passed every check under the policy are cached, and the cached
    dict is never mutated (callers get it behind a read-only proxy).
    """
    cache = policy.headers
    cached = cache.get(head)
    if cached is not None:
        return cached
    header = parse_protected(head)
    alg, enc = _check_header(header, header, policy)
    checked = (header, alg, enc, MappingProxyType(header))
    # Only flat headers are cached: a nested value (epk, a list) handed out inside the result
    # could be mutated by the caller and must never leak into a later decryption.
    if len(head) <= _CACHED_HEADER_MAX and not any(
        isinstance(value, (dict, list)) for value in header.values()
    ):
        if len(cache) >= _HEADERS_CACHE_SIZE:
            cache.clear()
        cache[head] = checked
    return checked


def _check_header(
    header: Mapping[str, Any], protected: Mapping[str, Any], policy: _Policy
) -> tuple[KeyManagement, ContentEncryption]:
    alg, enc = header.get("alg"), header.get("enc")
    if not isinstance(alg, str):
        raise MalformedToken("JOSE header has no string 'alg'")
    if not isinstance(enc, str):
        if "enc" not in header:
            raise MalformedToken("JOSE header has no 'enc': this is not a JWE")
        raise MalformedToken("'enc' must be a string")
    if alg not in policy.algorithms:
        raise AlgorithmNotAllowed(f"alg {alg[:20]!r} is not in the allowed algorithms")
    if enc not in policy.encryptions:
        raise AlgorithmNotAllowed(f"enc {enc[:20]!r} is not in the allowed encryptions")
    check_string_members(header)
    if "crit" in header:
        # No JWE extension is understood, so any listed one makes the token unacceptable.
        check_crit(protected, understood=(), registered=_REGISTERED)
    if "zip" in header:
        _check_zip(header, protected, policy)
    return KEY_MANAGEMENTS[alg], CONTENT_ENCRYPTIONS[enc]


def _check_zip(header: Mapping[str, Any], protected: Mapping[str, Any], policy: _Policy) -> None:
    if "zip" not in protected:
        raise MalformedToken("'zip' must be in the protected header")
    if header["zip"] != "DEF":
        raise MalformedToken("'zip' must be 'DEF'")
    if not policy.decompress:
        raise AlgorithmNotAllowed("compressed JWE ('zip') needs decompress=True")


def _inflate(data: bytes, limit: int) -> bytes:
    # RFC 7516 section 4.1.3 / RFC 1951 raw DEFLATE.  max_length bounds the output buffer, so a
    # bomb is refused after producing at most limit + 1 bytes.
    inflater = zlib.decompressobj(wbits=-15)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error:
        raise MalformedToken("compressed plaintext is not valid DEFLATE") from None
    if len(out) > limit:
        raise TokenTooLarge(f"decompressed plaintext larger than {limit} bytes")
    if not inflater.eof or inflater.unused_data:
        raise MalformedToken("compressed plaintext is truncated or has trailing data")
    return out


def _check_content_lengths(enc: ContentEncryption, iv: bytes, tag: bytes, ct: bytes) -> None:
    if len(iv) != enc.iv_size:
        raise MalformedToken(f"iv must be {enc.iv_size} bytes for {enc.name}")
    if len(tag) != enc.tag_size:
        raise MalformedToken(f"tag must be {enc.tag_size} bytes for {enc.name}")
    if enc.hash_name is not None and (not ct or len(ct) % 16):
        raise MalformedToken(f"ciphertext length is not a positive multiple of 16 for {enc.name}")


def _direct_key(key: JWK, alg: KeyManagement, enc: ContentEncryption) -> ContentKey | None:
    """The prepared content key of a ``dir`` key, built once and kept on the key (else ``None``)."""
    if alg.name != "dir":
        return None
    memo = key_memo(key)
    slot = _CONTENT_KEY_SLOTS[enc.name]
    prepared = memo.get(slot)
    if prepared is None:
        # _select_keys checked the key's size for enc; a wrong one fails in decrypt_content.
        material = key_material(key)
        if len(material) != enc.key_size:
            return None
        prepared = memo.setdefault(slot, prepare_content_key(enc, material))
    return cast("ContentKey", prepared)


def _decrypt_attempts(  # noqa: PLR0917 - private; every argument is one part of the message
    candidates: Sequence[JWK],
    alg: KeyManagement,
    enc: ContentEncryption,
    header: Mapping[str, Any],
    parts: tuple[bytes, bytes, bytes, bytes, bytes],
    policy: _Policy,
) -> tuple[bytes, JWK]:
    encrypted_key, iv, ct, tag, aad = parts
    malformed: MalformedToken | None = None
    failed = False
    for key in candidates:
        try:
            cek = unwrap_cek(
                alg,
                enc,
                key_material(key),
                header,
                encrypted_key,
                p2c_min=policy.p2c_min,
                p2c_max=policy.p2c_max,
                key_checked=True,  # _select_keys ran check_key through _key_problem
            )
            prepared = _direct_key(key, alg, enc)
            plaintext = decrypt_content(enc, cek, iv, ct, tag, aad, prepared=prepared)
        except DecryptionFailed:
            failed = True
            continue
        except MalformedToken as exc:
            # A length that depends on the key (an RSA modulus) may fit another candidate.
            malformed = malformed or exc
            continue
        if "zip" in header:
            plaintext = _inflate(plaintext, policy.max_decompressed)
        return plaintext, key
    if malformed is not None and not failed:
        raise malformed
    raise DecryptionFailed(FAILED)


# ----------------------------------------------------------------------------- compact


def decrypt(
    token: str | bytes,
    keys: JWK | KeySet | KeyResolver | Sequence[JWK],
    *,
    algorithms: Collection[str],
    encryptions: Collection[str],
    decompress: bool = False,
    max_decompressed: int = MAX_DECOMPRESSED,
    p2c_min: int = P2C_MIN,
    p2c_max: int = P2C_MAX,
    max_size: int = MAX_TOKEN_SIZE,
    max_key_trials: int = MAX_KEY_TRIALS,
) -> DecryptedJWE:
    """Decrypt a compact JWE.

    Args:
        token: The compact serialization (five segments).
        keys: The decryption key(s): private keys or symmetric keys.
        algorithms: The accepted ``alg`` values (required; list PBES2 or RSA1_5 only if you
            must accept them).
        encryptions: The accepted ``enc`` values (required).
        decompress: Accept ``zip: DEF`` (protected header only).
        max_decompressed: The cap on decompressed plaintext, in bytes; larger output is refused
            without ever being produced.
        p2c_min: Smallest accepted PBES2 ``p2c``.
        p2c_max: Largest accepted PBES2 ``p2c`` (checked before any key derivation).
        max_size: The size cap, checked before anything else.
        max_key_trials: The most keys tried (a token without ``kid`` against a large key
            set), refused before any cryptography.

    Returns:
        The plaintext, header and the key that decrypted it.

    Raises:
        TokenTooLarge: Over ``max_size`` or ``max_key_trials``, or decompressed output over
            ``max_decompressed``.
        MalformedToken: Bad structure, header or length (a JWS is refused here).
        DecodeError: Bad base64url or JSON.
        AlgorithmNotAllowed: ``alg``/``enc`` not allowed, or ``zip`` without ``decompress``.
        KeyNotFound: No key can decrypt it.
        DecryptionFailed: Decryption failed (one error for every cause).
        ConfigurationError: On a bad ``algorithms``, ``encryptions``, ``keys`` or limit.

    .. versionadded:: 0.1.0
    """
    resolver = keys if type(keys) is JWK else check_keys(keys)
    policy = _policy(
        resolver, algorithms, encryptions, decompress, max_decompressed, p2c_min, p2c_max
    )
    raw = as_ascii(token, max_size)
    head, ek_seg, iv_seg, ct_seg, tag_seg = split_compact(raw, 5)
    header, alg, enc, view = _compact_header(head, policy)
    # One C pass checks the alphabet of the whole token (the header passed its own check);
    # only a token that fails it is decoded segment by segment, to name the bad segment.
    segments = (ek_seg, iv_seg, ct_seg, tag_seg)
    if raw.translate(None, B64URL_ALPHABET) == b"....":
        encrypted_key, iv, ct, tag = b64url_decode_known_segments(segments, _SEGMENT_NAMES)
    else:
        encrypted_key, iv, ct, tag = (
            b64url_decode(segment, what=what)
            for segment, what in zip(segments, _SEGMENT_NAMES, strict=True)
        )
    if len(iv) != enc.iv_size or len(tag) != enc.tag_size or enc.hash_name is not None:
        _check_content_lengths(enc, iv, tag, ct)  # raises on a wrong length, names it
    limit = (
        max_key_trials
        if type(max_key_trials) is int and max_key_trials > 0
        else int_option(max_key_trials, "max_key_trials")
    )
    candidates = _select_keys(resolver, header.get("kid"), alg, enc, limit=limit)
    if alg.family is KeyFamily.DIRECT and len(candidates) == 1 and "zip" not in header:
        # Direct encryption with its one key: the content key kept on the key does the work
        # (every length was checked above).
        key = candidates[0]
        prepared = _direct_key(key, alg, enc)
        if prepared is not None:
            if encrypted_key:
                raise MalformedToken(f"encrypted_key must be 0 bytes with dir/{enc.name}")
            if isinstance(prepared, CBCKey):
                plaintext = decrypt_cbc(enc, prepared, iv, ct, tag, head)
                return _decrypted(plaintext, view, key)
            try:
                plaintext = prepared.decrypt(iv, ct + tag, head)
            except InvalidTag:
                raise DecryptionFailed(FAILED) from None
            return _decrypted(plaintext, view, key)
    parts = (encrypted_key, iv, ct, tag, head)
    plaintext, key = _decrypt_attempts(candidates, alg, enc, header, parts, policy)
    return _decrypted(plaintext, view, key)


def _decrypted(plaintext: bytes, header: Mapping[str, Any], key: JWK) -> DecryptedJWE:
    return _new_decrypted(plaintext=plaintext, header=header, key=key, aad=None)


def _algorithm_for(key: JWK, alg: str | None, enc: ContentEncryption) -> KeyManagement:
    if not isinstance(key, JWK):
        raise ConfigurationError("key must be a JWK")
    name: object = alg
    if name is None:
        bound = key.alg
        if bound is None:
            raise UnsupportedAlgorithm("the key has no alg: pass alg= explicitly")
        name = "dir" if bound in CONTENT_ENCRYPTIONS else bound
    spec = get_key_management(name)
    if not spec.encrypt:
        raise UnsupportedAlgorithm(f"{spec.name} is not offered for encryption")
    problem = _key_problem(key, spec, enc, private=False)
    if problem:
        raise InvalidKeyError(problem)
    return spec


def _plaintext(plaintext: object, compress: bool) -> bytes:  # noqa: FBT001 - private
    if not isinstance(plaintext, (bytes, bytearray, memoryview)):
        raise EncodeError("plaintext must be bytes")
    data = bytes(plaintext)
    if bool_option(compress, "compress"):
        deflater = zlib.compressobj(wbits=-15)
        data = deflater.compress(data) + deflater.flush()
    return data


def _caller_header(headers: Mapping[str, Any] | None, what: str) -> dict[str, Any]:
    extra = mapping_option(headers, what)
    if not all(isinstance(name, str) for name in extra):
        raise EncodeError(f"{what} names must be strings")
    bad = sorted(set(extra) & _GENERATED)
    if bad:
        raise EncodeError(f"{what} may not set {bad[0]!r}: it comes from the arguments")
    if "crit" in extra:
        raise EncodeError("no JWE 'crit' extension is supported")
    return extra


def encrypt(
    plaintext: bytes,
    key: JWK,
    *,
    enc: str,
    alg: str | None = None,
    headers: Mapping[str, Any] | None = None,
    compress: bool = False,
) -> str:
    """Encrypt ``plaintext`` to one recipient and return the compact serialization.

    Args:
        plaintext: The bytes to encrypt.
        key: The recipient's public key, or a symmetric key (``dir``, A*KW, A*GCMKW), or an
            ``oct`` key holding a PBES2 password.
        enc: The content encryption algorithm, for example ``"A256GCM"``.
        alg: The key management algorithm; defaults to the key's ``alg`` (a key bound to an
            ``enc`` value means ``dir``).  RSA1_5 is refused.
        headers: Extra protected header members (``kid`` comes from the key; ``typ``, ``cty``,
            ``apu``/``apv``, ``p2c``/``p2s`` may be given).
        compress: DEFLATE the plaintext first and set ``zip: DEF`` (RFC 7516 section 4.1.3).

    Raises:
        UnsupportedAlgorithm: If ``alg`` or ``enc`` is unknown or not offered.
        InvalidKeyError: If the key cannot serve ``alg`` with ``enc``.
        EncodeError: If the plaintext or headers cannot be encoded.

    .. versionadded:: 0.1.0
    """
    enc_spec = get_content_encryption(enc)
    alg_spec = _algorithm_for(key, alg, enc_spec)
    data = _plaintext(plaintext, compress)
    header: dict[str, Any] = {"alg": alg_spec.name, "enc": enc_spec.name}
    if key.kid is not None:
        header["kid"] = key.kid
    header.update(_caller_header(headers, "headers"))
    if compress:
        header["zip"] = "DEF"
    cek, encrypted_key = wrap_cek(alg_spec, enc_spec, key_material(key), header)
    head = b64url_encode(json_dumps(header))
    prepared = _direct_key(key, alg_spec, enc_spec)  # None unless dir
    iv, ct, tag = encrypt_content(enc_spec, cek, data, head.encode("ascii"), prepared=prepared)
    return ".".join((head, *(b64url_encode(part) for part in (encrypted_key, iv, ct, tag))))


# ----------------------------------------------------------------------------- JSON


def encrypt_json(
    plaintext: bytes,
    recipients: JWK | Recipient | Sequence[JWK | Recipient],
    *,
    enc: str,
    protected: Mapping[str, Any] | None = None,
    unprotected: Mapping[str, Any] | None = None,
    aad: bytes | None = None,
    compress: bool = False,
    flattened: bool = False,
) -> dict[str, Any]:
    """Encrypt ``plaintext`` to one or several recipients in the JSON serialization.

    With one recipient, its ``alg``, ``kid`` and algorithm parameters (``epk``, ``iv``/``tag``,
    ``p2s``/``p2c``) go into the protected header; with several, into each recipient's
    unprotected header (the protected header then carries ``enc``, ``zip`` and ``protected``).

    Args:
        plaintext: The bytes to encrypt.
        recipients: One key or :class:`Recipient`, or several (general serialization).
        enc: The content encryption algorithm.
        protected: Extra protected header members.
        unprotected: Shared unprotected header members (names disjoint from the others).
        aad: Additional authenticated data (RFC 7516 section 5.1 step 14).
        compress: DEFLATE the plaintext and set ``zip: DEF`` (protected).
        flattened: Produce the flattened form (exactly one recipient).

    Returns:
        The JWE JSON object, ready for ``json.dumps``.

    Raises:
        ConfigurationError: No recipient, or ``flattened`` with several.
        UnsupportedAlgorithm: ``dir``/``ECDH-ES`` with several recipients, unknown algorithms.
        InvalidKeyError: A key does not fit its algorithm.
        EncodeError: Overlapping header names or values that cannot be encoded.

    .. versionadded:: 0.1.0
    """
    items = [recipients] if isinstance(recipients, (JWK, Recipient)) else list(recipients)
    entries = [r if isinstance(r, Recipient) else Recipient(key=r) for r in items]
    if not entries or not all(isinstance(r.key, JWK) for r in entries):
        raise ConfigurationError("give at least one recipient key")
    if bool_option(flattened, "flattened") and len(entries) != 1:
        raise ConfigurationError("the flattened serialization carries exactly one recipient")
    enc_spec = get_content_encryption(enc)
    data = _plaintext(plaintext, compress)
    prot = _caller_header(protected, "protected")
    prot["enc"] = enc_spec.name
    if compress:
        prot["zip"] = "DEF"
    shared = _caller_header(unprotected, "unprotected")
    cek, wrapped = _wrap_recipients(entries, enc_spec, prot, shared)
    head = b64url_encode(json_dumps(prot))
    aad_b64 = None if aad is None else b64url_encode(_plaintext(aad, compress=False))
    full_aad = head if aad_b64 is None else f"{head}.{aad_b64}"
    iv, ct, tag = encrypt_content(enc_spec, cek, data, full_aad.encode("ascii"))
    out: dict[str, Any] = {"protected": head}
    if shared:
        out["unprotected"] = shared
    recipient_objs = [_recipient_object(own, encrypted_key) for own, encrypted_key in wrapped]
    if flattened:
        out.update(recipient_objs[0])
    else:
        out["recipients"] = recipient_objs
    if aad_b64 is not None:
        out["aad"] = aad_b64
    out.update(iv=b64url_encode(iv), ciphertext=b64url_encode(ct), tag=b64url_encode(tag))
    return out


def _recipient_object(own: Mapping[str, Any], encrypted_key: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    if own:
        obj["header"] = dict(own)
    if encrypted_key:
        obj["encrypted_key"] = b64url_encode(encrypted_key)
    return obj


def _wrap_recipients(
    entries: Sequence[Recipient],
    enc_spec: ContentEncryption,
    prot: dict[str, Any],
    shared: Mapping[str, Any],
) -> tuple[bytes, list[tuple[dict[str, Any], bytes]]]:
    single = len(entries) == 1
    cek: bytes | None = None
    wrapped: list[tuple[dict[str, Any], bytes]] = []
    for entry in entries:
        alg_spec = _algorithm_for(entry.key, entry.alg, enc_spec)
        own = _caller_header(entry.header, "recipient header")
        target = prot if single else own
        target["alg"] = alg_spec.name
        if entry.key.kid is not None and "kid" not in prot and "kid" not in shared:
            target.setdefault("kid", entry.key.kid)
        overlap = (set(prot) & set(shared)) | (set(prot) & set(own)) | (set(shared) & set(own))
        if overlap:
            raise EncodeError(f"header {min(overlap)!r} appears in two header parts")
        cek, encrypted_key = wrap_cek(alg_spec, enc_spec, key_material(entry.key), target, cek)
        wrapped.append((own, encrypted_key))
    if cek is None:  # pragma: no cover - at least one recipient
        raise ConfigurationError("no recipient")
    return cek, wrapped


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedToken(f"{what} must be a JSON object")
    return value


def _recipient_entries(obj: Mapping[str, Any], most: int) -> list[dict[str, Any]]:
    if "recipients" in obj:
        if "header" in obj or "encrypted_key" in obj:
            raise MalformedToken("general JWE JSON mixes flattened members")
        entries = obj["recipients"]
        if not isinstance(entries, list) or not entries:
            raise MalformedToken("'recipients' must be a non-empty array")
        if len(entries) > most:
            raise too_much_work("recipients", most, "max_recipients")
        return [_object(e, "each recipient") for e in entries]
    flat: dict[str, Any] = {}
    for name in ("header", "encrypted_key"):
        if name in obj:
            flat[name] = obj[name]
    return [flat]


def decrypt_json(
    data: str | bytes | Mapping[str, Any],
    keys: JWK | KeySet | KeyResolver | Sequence[JWK],
    *,
    algorithms: Collection[str],
    encryptions: Collection[str],
    decompress: bool = False,
    max_decompressed: int = MAX_DECOMPRESSED,
    p2c_min: int = P2C_MIN,
    p2c_max: int = P2C_MAX,
    max_size: int = MAX_TOKEN_SIZE,
    max_recipients: int = MAX_RECIPIENTS,
    max_key_trials: int = MAX_KEY_TRIALS,
) -> DecryptedJWE:
    """Decrypt a JWE in the general or flattened JSON serialization.

    Recipients are tried in order; those whose ``alg`` is not allowed or for which no key is
    found are skipped.  The protected header, the shared ``unprotected`` header and each
    recipient's ``header`` must have disjoint member names, and ``enc`` may not be per-recipient.
    The checks and arguments are those of :func:`decrypt`.  Besides, ``max_recipients`` caps
    the recipients and ``max_key_trials`` the key unwraps one object may cause (recipients
    times candidate keys); both are checked before any cryptography.

    Returns:
        The plaintext, the joint header of the recipient that decrypted, the key and ``aad``.

    Raises:
        TokenTooLarge: Over ``max_size``, ``max_decompressed``, ``max_recipients`` or
            ``max_key_trials``.
        MalformedToken: Bad structure, overlapping headers, bad lengths.
        DecodeError: Bad base64url or JSON.
        AlgorithmNotAllowed: No recipient uses an allowed ``alg``; ``enc`` or ``zip`` refused.
        KeyNotFound: No key for any allowed recipient.
        DecryptionFailed: Decryption failed (one error for every cause).
        ConfigurationError: On bad arguments.

    .. versionadded:: 0.1.0
    """
    resolver = check_keys(keys)
    policy = _policy(
        resolver, algorithms, encryptions, decompress, max_decompressed, p2c_min, p2c_max
    )
    most = int_option(max_recipients, "max_recipients")
    obj = json_object(data, max_size, "JWE JSON", max_entries=most)
    head = obj.get("protected", "")
    if not isinstance(head, str):
        raise MalformedToken("'protected' must be a base64url string")
    if not head.isascii():
        raise DecodeError("protected header: not base64url (bad character or padding)")
    prot = parse_protected(head.encode("ascii")) if head else {}
    shared = _object(obj.get("unprotected", {}), "'unprotected'")
    entries = _recipient_entries(obj, most)
    iv, ct = _b64(obj.get("iv"), "iv"), _b64(obj.get("ciphertext"), "ciphertext")
    tag = _b64(obj.get("tag"), "tag")
    aad_b64 = obj.get("aad")
    aad = None if aad_b64 is None else _b64(aad_b64, "aad")
    full_aad = (head if aad_b64 is None else f"{head}.{aad_b64}").encode("ascii")
    if set(prot) & set(shared):
        raise MalformedToken("protected and unprotected headers share a member name")
    planned = _plan_recipients(
        entries, prot, shared, resolver, policy, (iv, tag, ct), max_key_trials
    )
    last_error: Exception | None = None
    for plan in planned:
        if isinstance(plan, VerificationError):
            last_error = plan
            continue
        entry, header, alg, enc, candidates = plan
        encrypted_key = _b64(entry.get("encrypted_key", ""), "encrypted key")
        parts = (encrypted_key, iv, ct, tag, full_aad)
        try:
            plaintext, key = _decrypt_attempts(candidates, alg, enc, header, parts, policy)
        except DecryptionFailed as exc:
            last_error = exc
            continue
        return DecryptedJWE(plaintext=plaintext, header=MappingProxyType(header), key=key, aad=aad)
    if isinstance(last_error, DecryptionFailed):
        raise DecryptionFailed(FAILED)
    raise last_error or KeyNotFound("no recipient")


_RecipientPlan = tuple[dict[str, Any], dict[str, Any], KeyManagement, ContentEncryption, list[JWK]]


def _plan_recipients(  # noqa: PLR0917 - private; the parts of one JWE JSON object
    entries: Sequence[dict[str, Any]],
    prot: Mapping[str, Any],
    shared: Mapping[str, Any],
    resolver: JWK | KeyResolver,
    policy: _Policy,
    content: tuple[bytes, bytes, bytes],
    max_key_trials: int,
) -> list[_RecipientPlan | VerificationError]:
    """Check every recipient and choose its candidate keys before any cryptography runs.

    All recipients share one budget of key trials (recipients x candidate keys); an object
    over it is refused whole.
    """
    budget = TrialBudget(max_key_trials, "recipients")
    planned: list[_RecipientPlan | VerificationError] = []
    for entry in entries:
        own = _object(entry.get("header", {}), "recipient 'header'")
        if set(own) & (set(prot) | set(shared)):
            raise MalformedToken("a recipient header repeats a protected or shared member")
        if "enc" in own or "zip" in own:
            raise MalformedToken("'enc' and 'zip' may not be per-recipient")
        header = {**prot, **shared, **own}
        kid = header.get("kid")
        try:
            alg, enc = _check_header(header, prot, policy)
            _check_content_lengths(enc, *content)
            candidates = budget.take(partial(_select_keys, resolver, kid, alg, enc))
        except (AlgorithmNotAllowed, KeyNotFound) as exc:
            planned.append(exc)
            continue
        planned.append((entry, header, alg, enc, candidates))
    return planned


# ----------------------------------------------------------------------------- nested JWT


def encrypt_jwt(
    claims: Mapping[str, Any],
    signing_key: JWK,
    encryption_key: JWK,
    *,
    enc: str,
    alg: str | None = None,
    signing_headers: Mapping[str, Any] | None = None,
    headers: Mapping[str, Any] | None = None,
) -> str:
    """Sign claims as a JWT, then encrypt it (RFC 7519 section 11.2: sign, then encrypt).

    The inner JWS gets ``typ: JWT``; the outer JWE gets ``cty: JWT`` (RFC 7519 section 5.2),
    which :func:`decrypt_jwt` requires.

    Args:
        claims: The JWT claims; ``exp``, ``nbf`` and ``iat`` may be aware datetimes.
        signing_key: The signer's private key (its ``alg`` is used).
        encryption_key: The recipient's key.
        enc: The content encryption algorithm.
        alg: The key management algorithm (default: the encryption key's ``alg``).
        signing_headers: Extra protected header members of the inner JWS (``typ`` defaults
            to ``"JWT"``).
        headers: Extra protected header members of the outer JWE.

    Raises:
        EncodeError: If the claims are not a JSON object or cannot be encoded.
        UnsupportedAlgorithm: If a key cannot serve its algorithm.
        InvalidKeyError: If the encryption key does not fit.

    .. versionadded:: 0.1.0
    """
    from authcore.jose import jwt  # noqa: PLC0415 - keeps jwe importable on its own

    inner = jwt.encode(claims, signing_key, headers=signing_headers)
    outer = {**mapping_option(headers, "headers"), "cty": "JWT"}
    return encrypt(inner.encode("ascii"), encryption_key, enc=enc, alg=alg, headers=outer)


def decrypt_jwt(
    token: str | bytes,
    keys: JWK | KeySet | KeyResolver | Sequence[JWK],
    *,
    algorithms: Collection[str],
    encryptions: Collection[str],
    verify: Callable[[str], T],
    max_size: int = MAX_TOKEN_SIZE,
) -> T:
    """Decode exactly the nested profile: a compact JWE with ``cty: JWT`` around a compact JWS.

    The outer token must be a JWE (a bare JWS is refused) whose protected header says
    ``cty: JWT``; its plaintext must be a compact JWS (a JWE inside is refused).  The inner JWS
    is then handed to ``verify``, typically ``JWTVerifier(...).verify`` or a ``jws.verify``
    closure, whose result is returned.  Compression is never accepted here.

    Args:
        token: The nested token.
        keys: The decryption key(s).
        algorithms: The accepted outer ``alg`` values.
        encryptions: The accepted outer ``enc`` values.
        verify: Verifies the inner JWS and returns what it returns; raises on failure.
        max_size: The size cap of the outer token.

    Raises:
        MalformedToken: Not a JWE, no ``cty: JWT``, or the inner token is not a compact JWS.
        VerificationError: Any error of :func:`decrypt` or of ``verify``.

    .. versionadded:: 0.1.0
    """
    if not callable(verify):
        raise ConfigurationError("verify must be callable (for example JWTVerifier(...).verify)")
    result = decrypt(token, keys, algorithms=algorithms, encryptions=encryptions, max_size=max_size)
    cty = result.header.get("cty")
    if not isinstance(cty, str) or cty.upper() not in ("JWT", "APPLICATION/JWT"):
        raise MalformedToken("the JWE does not carry a nested JWT (cty is not 'JWT')")
    inner = result.plaintext
    if not inner.isascii() or inner.count(b".") != 2:  # noqa: PLR2004 - a compact JWS
        raise MalformedToken("the nested token is not a compact JWS")
    return verify(inner.decode("ascii"))
