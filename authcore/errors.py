"""The whole authcore exception tree.

Every exception authcore raises on purpose is an :class:`AuthcoreError`, and every class has a
stable :attr:`~AuthcoreError.code` string: log it, count it, return it to clients.  Two branches
matter in practice:

* :class:`ConfigurationError`: **your** mistake, raised at setup (a weak key, a missing
  algorithm list, an unusable option).  Fix the code; never show it to a peer.
* :class:`VerificationError`: the **peer's** input failed (malformed, bad signature, expired,
  revoked, replayed, rate limited, untrusted chain, ...).  Its ``str()`` is a fixed message per
  class plus a ``reason`` for logs.  A reason never contains secrets, keys, MACs or whole
  tokens; it names what failed ("exp is in the past", "kid not found").

The tree::

    AuthcoreError
    +-- ConfigurationError               caller mistake at setup
    |   +-- InvalidKeyError              key material refused (weak, broken, mismatched)
    |   +-- UnsupportedAlgorithm         algorithm unknown or unusable with this key
    +-- UsageError                       bad command-line use (the CLI exits 2)
    +-- EncodeError                      a value the caller passed cannot be encoded
    +-- StoreError                       a storage backend failed (not the peer's fault)
    +-- NotFound                         management call on an id that does not exist
    +-- FetchError                       fetching remote data (JWKS, CRL, OCSP) failed
    +-- VerificationError                peer input refused; has .reason
        +-- MalformedError               cannot be parsed at all
        |   +-- DecodeError              strict base64url / JSON / UTF-8 refused
        |   +-- MalformedToken           JWS / JWE / JWT structure
        |   |   +-- TokenTooLarge        size cap hit before any work
        |   +-- MalformedKey             API key format or checksum
        |   +-- MalformedHeader          an HTTP or webhook header
        |   +-- MalformedRequest         an HTTP request (form, duplicate parameters)
        |   +-- MalformedCertificate     X.509 / CRL / OCSP data
        +-- InvalidSignature             signature or MAC does not verify
        +-- DecryptionFailed             JWE could not be decrypted (one message for all causes)
        +-- AlgorithmNotAllowed          the token's alg/enc is not in the caller's list
        +-- KeyNotFound                  no usable key (unknown kid, no key for alg)
        +-- InvalidCredentials           API key / client secret unknown or wrong (one error)
        +-- InvalidClaim                 a JWT claim check failed; has .claim
        |   +-- MissingClaim
        |   +-- ExpiredToken             exp
        |   +-- ImmatureToken            nbf / iat in the future
        |   +-- InvalidIssuer            iss
        |   +-- InvalidAudience          aud
        |   +-- InvalidTokenType         typ (RFC 8725 section 3.11)
        +-- Expired                      an API key, grant or message is past its time
        +-- Revoked                      token, key or credential revoked
        +-- Disabled                     credential exists but is disabled
        +-- Replayed                     a one-time value was seen before
        +-- StaleTimestamp               a signed timestamp is outside the tolerance
        +-- InsufficientScope            has .missing (the scopes that were not granted)
        +-- RateLimited                  has .retry_after (seconds)
        +-- QuotaExhausted               no remaining uses
        +-- CertificateError             X.509 path or policy failure
            +-- UntrustedCertificate     no path to a trust anchor
            +-- CertificateExpired       outside notBefore / notAfter
            +-- RevokedCertificate       has .revocation_reason and .revocation_date
            +-- RevocationUnknown        status could not be established (hard-fail policy)
            +-- NameMismatch             DNS / IP / SPIFFE identity does not match
            +-- WrongUsage               key usage / extended key usage refused
            +-- PolicyViolation          authcore policy (weak leaf key, SVID rules, ...)
            +-- BindingMismatch          certificate-bound token does not match (RFC 8705)

Standard exceptions from parsing (``ValueError``, ``KeyError``, ``binascii.Error``,
``UnicodeDecodeError``, ``json.JSONDecodeError``, ``RecursionError``, ``OverflowError``) never
escape a public authcore function: they are translated into the class above that says what
failed.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    import datetime as dt

__all__ = [
    "AlgorithmNotAllowed",
    "AuthcoreError",
    "BindingMismatch",
    "CertificateError",
    "CertificateExpired",
    "ConfigurationError",
    "DecodeError",
    "DecryptionFailed",
    "Disabled",
    "EncodeError",
    "Expired",
    "ExpiredToken",
    "FetchError",
    "ImmatureToken",
    "InsufficientScope",
    "InvalidAudience",
    "InvalidClaim",
    "InvalidCredentials",
    "InvalidIssuer",
    "InvalidKeyError",
    "InvalidSignature",
    "InvalidTokenType",
    "KeyNotFound",
    "MalformedCertificate",
    "MalformedError",
    "MalformedHeader",
    "MalformedKey",
    "MalformedRequest",
    "MalformedToken",
    "MissingClaim",
    "NameMismatch",
    "NotFound",
    "PolicyViolation",
    "QuotaExhausted",
    "RateLimited",
    "Replayed",
    "RevocationUnknown",
    "Revoked",
    "RevokedCertificate",
    "StaleTimestamp",
    "StoreError",
    "TokenTooLarge",
    "UnsupportedAlgorithm",
    "UntrustedCertificate",
    "UsageError",
    "VerificationError",
    "WrongUsage",
]


class AuthcoreError(Exception):
    """Root of every error authcore raises on purpose.

    Attributes:
        code: A stable, machine-readable identifier of the failure class.
        message: The fixed human-readable message of the class.
    """

    code: ClassVar[str] = "authcore_error"
    message: ClassVar[str] = "authcore error"

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail
        super().__init__(f"{self.message}: {detail}" if detail else self.message)


# ----------------------------------------------------------------------------- caller side


class ConfigurationError(AuthcoreError):
    """The caller's mistake, detected at setup: fix the code, do not report it to a peer.

    Attributes:
        errors: Every problem found, when more than one was detected at once.
    """

    code = "configuration_error"
    message = "invalid configuration"

    def __init__(self, detail: str | None = None, *, errors: tuple[str, ...] = ()) -> None:
        self.errors: tuple[str, ...] = errors or ((detail,) if detail else ())
        super().__init__(detail or "; ".join(errors) or None)


class InvalidKeyError(ConfigurationError):
    """Key material was refused: weak, broken, of the wrong type, or mismatched parts."""

    code = "invalid_key"
    message = "invalid key"


class UnsupportedAlgorithm(ConfigurationError):
    """An algorithm is unknown, forbidden (``none``), or unusable with the given key."""

    code = "unsupported_algorithm"
    message = "unsupported algorithm"


class UsageError(AuthcoreError):
    """A command-line mistake; the ``authcore`` command prints one line and exits 2."""

    code = "usage_error"
    message = "usage error"


class EncodeError(AuthcoreError):
    """A value the caller passed cannot be encoded (for example claims that are not JSON)."""

    code = "encode_error"
    message = "cannot encode"


class StoreError(AuthcoreError):
    """A storage backend failed or holds data authcore cannot read."""

    code = "store_error"
    message = "store error"


class NotFound(AuthcoreError):
    """A management call (revoke, rotate, ...) named an id that does not exist."""

    code = "not_found"
    message = "not found"


class FetchError(AuthcoreError):
    """Fetching remote data (a JWKS, metadata, a CRL or an OCSP response) failed.

    Attributes:
        reason: What exactly failed (status, media type, size, timeout, TLS, a refused
            set...), for logs; the same text as ``detail``.
    """

    code = "fetch_failed"
    message = "fetch failed"

    def __init__(self, reason: str | None = None) -> None:
        self.reason: str = reason or ""
        super().__init__(reason)


# ----------------------------------------------------------------------------- peer side


class VerificationError(AuthcoreError):
    """The peer's input was refused.

    ``str(error)`` is the class's fixed message followed by the reason.  The reason is for
    logs: it says what failed and never contains secrets, keys, MACs or whole tokens.

    Attributes:
        reason: What exactly failed, for logs.
    """

    code = "verification_failed"
    message = "verification failed"

    def __init__(self, reason: str = "") -> None:
        self.reason = reason
        super().__init__(reason or None)


class MalformedError(VerificationError):
    """The input cannot be parsed at all."""

    code = "malformed"
    message = "malformed input"


class DecodeError(MalformedError):
    """Strict base64url, JSON or UTF-8 decoding refused the input."""

    code = "decode_error"
    message = "cannot decode"


class MalformedToken(MalformedError):
    """A JWS, JWE or JWT does not have a valid structure."""

    code = "malformed_token"
    message = "malformed token"


class TokenTooLarge(MalformedToken):
    """The token exceeds the configured size cap; nothing else was done with it."""

    code = "token_too_large"
    message = "token too large"


class MalformedKey(MalformedError):
    """An API key has the wrong shape, charset, length or checksum."""

    code = "malformed_key"
    message = "malformed API key"


class MalformedHeader(MalformedError):
    """An HTTP or webhook header could not be parsed."""

    code = "malformed_header"
    message = "malformed header"


class MalformedRequest(MalformedError):
    """An HTTP request is malformed (bad form encoding, duplicated parameters, ...)."""

    code = "malformed_request"
    message = "malformed request"


class MalformedCertificate(MalformedError):
    """X.509 certificate, CRL or OCSP data could not be parsed."""

    code = "malformed_certificate"
    message = "malformed certificate data"


class InvalidSignature(VerificationError):
    """A signature or MAC does not verify."""

    code = "invalid_signature"
    message = "invalid signature"


class DecryptionFailed(VerificationError):
    """A JWE could not be decrypted; every cause gives this one error."""

    code = "decryption_failed"
    message = "decryption failed"


class AlgorithmNotAllowed(VerificationError):
    """The algorithm named by the input is not in the caller's allowed list."""

    code = "algorithm_not_allowed"
    message = "algorithm not allowed"


class KeyNotFound(VerificationError):
    """No usable key was found (unknown ``kid``, no key for the algorithm)."""

    code = "key_not_found"
    message = "no matching key"


class InvalidCredentials(VerificationError):
    """An API key or client secret is unknown or wrong: the two are indistinguishable."""

    code = "invalid_credentials"
    message = "invalid credentials"


class InvalidClaim(VerificationError):
    """A JWT claim check failed.

    Attributes:
        claim: The name of the claim that failed.
    """

    code = "invalid_claim"
    message = "invalid claim"

    def __init__(self, reason: str = "", *, claim: str = "") -> None:
        self.claim = claim
        super().__init__(reason)


class MissingClaim(InvalidClaim):
    """A required claim is absent."""

    code = "missing_claim"
    message = "missing claim"


class ExpiredToken(InvalidClaim):
    """The token's ``exp`` (or ``max_age`` after ``iat``) has passed."""

    code = "expired_token"
    message = "token expired"


class ImmatureToken(InvalidClaim):
    """The token's ``nbf`` (or ``iat``) is in the future."""

    code = "immature_token"
    message = "token not yet valid"


class InvalidIssuer(InvalidClaim):
    """The ``iss`` claim is not the expected issuer."""

    code = "invalid_issuer"
    message = "invalid issuer"


class InvalidAudience(InvalidClaim):
    """The ``aud`` claim does not contain an accepted audience."""

    code = "invalid_audience"
    message = "invalid audience"


class InvalidTokenType(InvalidClaim):
    """The ``typ`` header is not the explicitly required type (RFC 8725 section 3.11)."""

    code = "invalid_token_type"
    message = "invalid token type"


class Expired(VerificationError):
    """An API key, grant, code or message is past its validity."""

    code = "expired"
    message = "expired"


class Revoked(VerificationError):
    """The token, key or credential has been revoked."""

    code = "revoked"
    message = "revoked"


class Disabled(VerificationError):
    """The credential exists and matched, but is disabled."""

    code = "disabled"
    message = "disabled"


class Replayed(VerificationError):
    """A one-time value (jti, webhook id, code, DPoP proof) was seen before."""

    code = "replayed"
    message = "replay detected"


class StaleTimestamp(VerificationError):
    """A signed timestamp lies outside the tolerance, in either direction."""

    code = "stale_timestamp"
    message = "timestamp outside tolerance"


class InsufficientScope(VerificationError):
    """The credential is valid but lacks required scopes.

    Attributes:
        missing: The required scopes that were not granted, sorted.
    """

    code = "insufficient_scope"
    message = "insufficient scope"

    def __init__(self, reason: str = "", *, missing: tuple[str, ...] = ()) -> None:
        self.missing: tuple[str, ...] = tuple(sorted(missing))
        super().__init__(reason or ("missing scopes: " + " ".join(self.missing)))


class RateLimited(VerificationError):
    """Too many requests.

    Attributes:
        retry_after: Seconds until a request would be allowed.
        limit: The burst size of the limit that refused, when known.
        reset_after: Seconds until the limit is back to a full burst, when known.
    """

    code = "rate_limited"
    message = "rate limited"

    def __init__(
        self,
        reason: str = "",
        *,
        retry_after: float = 0.0,
        limit: int | None = None,
        reset_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        self.limit = limit
        self.reset_after = reset_after
        super().__init__(reason or f"retry after {retry_after:.3f}s")

    def headers(self) -> dict[str, str]:
        """Response headers for the 429 answer, the same as a refused ``Decision.headers()``.

        ``Retry-After`` is in whole seconds, rounded up (RFC 9110 section 10.2.3 allows no
        fraction, and clients must not retry early).  ``RateLimit-Limit``, ``-Remaining`` and
        ``-Reset`` are added when the limit that refused is known.

        Returns:
            Header names and values.

        .. versionadded:: 0.1.0
        """
        result: dict[str, str] = {}
        if self.limit is not None:
            result["RateLimit-Limit"] = str(self.limit)
            result["RateLimit-Remaining"] = "0"
            result["RateLimit-Reset"] = str(max(0, math.ceil(self.reset_after or 0.0)))
        result["Retry-After"] = str(max(0, math.ceil(self.retry_after)))
        return result


class QuotaExhausted(VerificationError):
    """The credential has no remaining uses."""

    code = "quota_exhausted"
    message = "quota exhausted"


class CertificateError(VerificationError):
    """An X.509 certificate path or policy check failed."""

    code = "certificate_error"
    message = "certificate verification failed"


class UntrustedCertificate(CertificateError):
    """No valid path from the certificate to a trust anchor."""

    code = "untrusted_certificate"
    message = "untrusted certificate"


class CertificateExpired(CertificateError):
    """A certificate in the path is outside its validity period."""

    code = "certificate_expired"
    message = "certificate expired or not yet valid"


class RevokedCertificate(CertificateError):
    """A certificate in the path is revoked.

    Attributes:
        revocation_reason: The CRL/OCSP reason name (for example ``"keyCompromise"``), if given.
        revocation_date: When it was revoked, if known.
    """

    code = "revoked_certificate"
    message = "certificate revoked"

    def __init__(
        self,
        reason: str = "",
        *,
        revocation_reason: str | None = None,
        revocation_date: dt.datetime | None = None,
    ) -> None:
        self.revocation_reason = revocation_reason
        self.revocation_date = revocation_date
        super().__init__(reason)


class RevocationUnknown(CertificateError):
    """Revocation status could not be established and the policy is hard-fail."""

    code = "revocation_unknown"
    message = "revocation status unknown"


class NameMismatch(CertificateError):
    """The certificate does not carry the expected name (DNS, IP, URI, SPIFFE ID)."""

    code = "name_mismatch"
    message = "certificate name mismatch"


class WrongUsage(CertificateError):
    """Key usage or extended key usage does not allow this use."""

    code = "wrong_usage"
    message = "certificate not valid for this usage"


class PolicyViolation(CertificateError):
    """An authcore policy refused the certificate (weak key, SVID rules, chain depth, ...)."""

    code = "policy_violation"
    message = "certificate policy violation"


class BindingMismatch(CertificateError):
    """A certificate-bound token (RFC 8705 ``cnf``/``x5t#S256``) does not match the certificate."""

    code = "binding_mismatch"
    message = "certificate binding mismatch"
