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
    +-- ProtocolMisuseError              the caller fed a grant lifecycle an illegal event
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
        +-- AuthenticationFailed         authcore.authn: has .status (401/403), .challenges
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
        +-- OAuthError                   an OAuth 2.x protocol error; has .error, .status,
            |                            .redirectable (abstract: never raised itself)
            +-- AuthorizationTargetError never redirected: client_id / redirect_uri invalid
            |   +-- UnknownClient        client_id missing, unknown or not allowed here
            |   +-- InvalidRedirectURI   redirect_uri missing, malformed or not registered
            +-- InvalidRequest           invalid_request
            +-- InvalidClient            invalid_client (401 + WWW-Authenticate for Basic)
            +-- InvalidGrant             invalid_grant
            +-- UnauthorizedClient       unauthorized_client
            +-- UnsupportedGrantType     unsupported_grant_type
            +-- UnsupportedResponseType  unsupported_response_type
            +-- InvalidScope             invalid_scope
            +-- AccessDenied             access_denied
            +-- InvalidTarget            invalid_target (RFC 8707)
            +-- InvalidRequestURI        invalid_request_uri (RFC 9126 / RFC 9101)
            +-- UnsupportedTokenType     unsupported_token_type (RFC 7009)
            +-- AuthorizationPending     authorization_pending (RFC 8628)
            +-- SlowDown                 slow_down (RFC 8628)
            +-- DeviceCodeExpired        expired_token (RFC 8628)
            +-- OAuthServerError         server_error (500)
            +-- TemporarilyUnavailable   temporarily_unavailable (503)
            +-- InvalidDPoPProof         invalid_dpop_proof (RFC 9449); has .challenges
            +-- UseDPoPNonce             use_dpop_nonce (RFC 9449); has .nonce, .challenges
            +-- InvalidToken             invalid_token (RFC 6750, 401); has .challenges
            +-- InsufficientTokenScope   insufficient_scope (RFC 6750, 403); has .missing,
                                         .challenges

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
    "AccessDenied",
    "AlgorithmNotAllowed",
    "AuthcoreError",
    "AuthenticationFailed",
    "AuthorizationPending",
    "AuthorizationTargetError",
    "BindingMismatch",
    "CertificateError",
    "CertificateExpired",
    "ConfigurationError",
    "DecodeError",
    "DecryptionFailed",
    "DeviceCodeExpired",
    "Disabled",
    "EncodeError",
    "Expired",
    "ExpiredToken",
    "FetchError",
    "ImmatureToken",
    "InsufficientScope",
    "InsufficientTokenScope",
    "InvalidAudience",
    "InvalidClaim",
    "InvalidClient",
    "InvalidCredentials",
    "InvalidDPoPProof",
    "InvalidGrant",
    "InvalidIssuer",
    "InvalidKeyError",
    "InvalidRedirectURI",
    "InvalidRequest",
    "InvalidRequestURI",
    "InvalidScope",
    "InvalidSignature",
    "InvalidTarget",
    "InvalidToken",
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
    "OAuthError",
    "OAuthServerError",
    "PolicyViolation",
    "ProtocolMisuseError",
    "QuotaExhausted",
    "RateLimited",
    "Replayed",
    "RevocationUnknown",
    "Revoked",
    "RevokedCertificate",
    "SlowDown",
    "StaleTimestamp",
    "StoreError",
    "TemporarilyUnavailable",
    "TokenTooLarge",
    "UnauthorizedClient",
    "UnknownClient",
    "UnsupportedAlgorithm",
    "UnsupportedGrantType",
    "UnsupportedResponseType",
    "UnsupportedTokenType",
    "UntrustedCertificate",
    "UsageError",
    "UseDPoPNonce",
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


class ProtocolMisuseError(AuthcoreError):
    """The caller sent a grant lifecycle an event its transition table does not allow.

    A programming error in the host (for example approving a device code twice), never the
    peer's fault: the OAuth server answers the peer with its own errors
    (:class:`OAuthError`).
    """

    code = "protocol_misuse"
    message = "illegal lifecycle transition"


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


class AuthenticationFailed(VerificationError):
    """An :class:`authcore.authn.Authenticator` refused a request: answer ``status``.

    The precise cause (an expired token, an unknown key, a certificate that does not match
    the token) is chained as ``__cause__`` and named in ``reason``, for logs.

    Attributes:
        status: ``401`` (no or bad credentials) or ``403`` (valid, but a scope is missing).
        challenges: The ``WWW-Authenticate`` values to send, one header field each.
        error: The RFC 6750 error code (``"invalid_token"``, ``"insufficient_scope"``), or
            ``None`` when no credentials were presented.
        missing: The required scopes that were not granted (403), sorted.

    .. versionadded:: 0.1.0
    """

    code = "authentication_failed"
    message = "authentication failed"

    def __init__(
        self,
        reason: str = "",
        *,
        status: int = 401,
        challenges: tuple[str, ...] = (),
        error: str | None = None,
        missing: tuple[str, ...] = (),
    ) -> None:
        self.status: int = status
        self.challenges: tuple[str, ...] = challenges
        self.error: str | None = error
        self.missing: tuple[str, ...] = tuple(sorted(missing))
        super().__init__(reason)

    def headers(self) -> list[tuple[str, str]]:
        """The response header fields: one ``WWW-Authenticate`` per challenge, no caching.

        .. versionadded:: 0.1.0
        """
        return [*(("WWW-Authenticate", c) for c in self.challenges), ("Cache-Control", "no-store")]


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


# ----------------------------------------------------------------------------- OAuth 2.x


class OAuthError(VerificationError):
    """An OAuth 2.x protocol error, answered to the peer with its RFC ``error`` string.

    Abstract: only the subclasses are raised (instantiating this class is a ``TypeError``).

    Attributes:
        error: The RFC error code sent on the wire (RFC 6749 sections 4.1.2.1 and 5.2,
            RFC 8628 section 3.5, RFC 7009, RFC 8707, RFC 9126).
        status: The HTTP status of a direct (non-redirect) error response.
        redirectable: Whether the authorization endpoint may send it to the client's
            redirect URI (only ever a URI validated first).
        description: The ``error_description`` sent to the peer (fixed text, never secrets).
    """

    code = "oauth_error"
    message = "OAuth error"
    error: ClassVar[str] = "server_error"
    status: ClassVar[int] = 400
    redirectable: ClassVar[bool] = False

    def __init__(self, reason: str = "", *, description: str | None = None) -> None:
        if type(self) is OAuthError:
            raise TypeError("OAuthError is abstract; raise one of its subclasses")
        self.description: str = description if description is not None else reason
        super().__init__(reason)


class AuthorizationTargetError(OAuthError):
    """The ``client_id`` or ``redirect_uri`` of an authorization request is not valid.

    Never redirected (RFC 6749 section 4.1.2.1): the user agent gets an error page, so an
    attacker cannot use the server as an open redirector.
    """

    code = "oauth_authorization_target"
    message = "invalid client or redirect URI"
    error = "invalid_request"
    redirectable = False


class UnknownClient(AuthorizationTargetError):
    """``client_id`` is missing, unknown, or the client may not use this endpoint."""

    code = "oauth_unknown_client"
    message = "unknown client"


class InvalidRedirectURI(AuthorizationTargetError):
    """``redirect_uri`` is missing where required, malformed, or not registered."""

    code = "oauth_invalid_redirect_uri"
    message = "invalid redirect URI"


class InvalidRequest(OAuthError):
    """A parameter is missing, repeated, malformed or unsupported (``invalid_request``)."""

    code = "oauth_invalid_request"
    message = "invalid request"
    error = "invalid_request"
    redirectable = True


class InvalidClient(OAuthError):
    """Client authentication failed (``invalid_client``, RFC 6749 section 5.2).

    Its ``description`` (sent to the peer) is the same for every cause unless one is given.

    Attributes:
        challenge: The ``WWW-Authenticate`` value when the client tried the Authorization
            header; the answer is then 401 instead of 400.
    """

    code = "oauth_invalid_client"
    message = "client authentication failed"
    error = "invalid_client"

    def __init__(
        self, reason: str = "", *, description: str | None = None, challenge: str | None = None
    ) -> None:
        self.challenge: str | None = challenge
        # The peer learns only that authentication failed: whether the client exists, or
        # which check refused it, stays in ``reason`` (for logs), never in the answer.
        super().__init__(reason, description=description or "client authentication failed")


class InvalidGrant(OAuthError):
    """The grant (code, refresh token, device code) is invalid, expired, revoked or reused."""

    code = "oauth_invalid_grant"
    message = "invalid grant"
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    """The client may not use this grant or response type."""

    code = "oauth_unauthorized_client"
    message = "unauthorized client"
    error = "unauthorized_client"
    redirectable = True


class UnsupportedGrantType(OAuthError):
    """The ``grant_type`` is not supported by this server."""

    code = "oauth_unsupported_grant_type"
    message = "unsupported grant type"
    error = "unsupported_grant_type"


class UnsupportedResponseType(OAuthError):
    """The ``response_type`` is not supported (only ``code`` is)."""

    code = "oauth_unsupported_response_type"
    message = "unsupported response type"
    error = "unsupported_response_type"
    redirectable = True


class InvalidScope(OAuthError):
    """The requested scope is unknown, malformed, or exceeds what was granted."""

    code = "oauth_invalid_scope"
    message = "invalid scope"
    error = "invalid_scope"
    redirectable = True


class AccessDenied(OAuthError):
    """The resource owner (or the server) denied the request."""

    code = "oauth_access_denied"
    message = "access denied"
    error = "access_denied"
    redirectable = True


class InvalidTarget(OAuthError):
    """A ``resource`` indicator is invalid or not allowed (RFC 8707 section 2)."""

    code = "oauth_invalid_target"
    message = "invalid target"
    error = "invalid_target"
    redirectable = True


class InvalidRequestURI(OAuthError):
    """A ``request_uri`` is unknown, expired, used, or bound to another client (RFC 9126)."""

    code = "oauth_invalid_request_uri"
    message = "invalid request_uri"
    error = "invalid_request_uri"
    redirectable = True


class UnsupportedTokenType(OAuthError):
    """The server does not revoke this type of token (RFC 7009 section 2.2.1)."""

    code = "oauth_unsupported_token_type"
    message = "unsupported token type"
    error = "unsupported_token_type"


class AuthorizationPending(OAuthError):
    """The user has not decided yet; poll again later (RFC 8628 section 3.5)."""

    code = "oauth_authorization_pending"
    message = "authorization pending"
    error = "authorization_pending"


class SlowDown(OAuthError):
    """Polled sooner than the interval; the interval grew by 5 s (RFC 8628 section 3.5)."""

    code = "oauth_slow_down"
    message = "slow down"
    error = "slow_down"


class DeviceCodeExpired(OAuthError):
    """The device code expired before it was redeemed (``expired_token``, RFC 8628)."""

    code = "oauth_expired_token"
    message = "device code expired"
    error = "expired_token"


class OAuthServerError(OAuthError):
    """The server failed (a store error): ``server_error``, 500, details only in logs."""

    code = "oauth_server_error"
    message = "server error"
    error = "server_error"
    status = 500
    redirectable = True


class TemporarilyUnavailable(OAuthError):
    """The server cannot handle the request now (``temporarily_unavailable``, 503)."""

    code = "oauth_temporarily_unavailable"
    message = "temporarily unavailable"
    error = "temporarily_unavailable"
    status = 503
    redirectable = True


class InvalidDPoPProof(OAuthError):
    """A DPoP proof is missing, malformed or fails a check (RFC 9449 sections 4.3, 5, 7.1).

    ``status`` is the token endpoint's 400; a resource server answers 401 with
    :attr:`challenges` (RFC 9449 section 7.1).

    Attributes:
        challenges: The ``WWW-Authenticate`` values to send (one header field each), set by
            a resource server; empty at the token endpoint.

    .. versionadded:: 0.1.0
    """

    code = "oauth_invalid_dpop_proof"
    message = "invalid DPoP proof"
    error = "invalid_dpop_proof"
    challenges: tuple[str, ...] = ()


class UseDPoPNonce(OAuthError):
    """The server requires a DPoP nonce: retry with :attr:`nonce` (RFC 9449 section 8).

    Send :attr:`nonce` in a ``DPoP-Nonce`` response header; ``status`` is the token
    endpoint's 400, a resource server answers 401 with :attr:`challenges` (RFC 9449 section 9).

    Attributes:
        nonce: The value of the ``DPoP-Nonce`` header to send.
        challenges: The ``WWW-Authenticate`` values, set by a resource server.

    .. versionadded:: 0.1.0
    """

    code = "oauth_use_dpop_nonce"
    message = "DPoP nonce required"
    error = "use_dpop_nonce"
    challenges: tuple[str, ...] = ()

    def __init__(self, reason: str = "", *, nonce: str, description: str | None = None) -> None:
        self.nonce: str = nonce
        super().__init__(reason, description=description)


class InvalidToken(OAuthError):
    """The access token is missing, expired, revoked, malformed or wrongly bound (RFC 6750).

    Attributes:
        challenges: The ``WWW-Authenticate`` values to send with the 401 (RFC 6750 section 3,
            RFC 9449 section 7.1), one header field each.

    .. versionadded:: 0.1.0
    """

    code = "oauth_invalid_token"
    message = "invalid access token"
    error = "invalid_token"
    status = 401
    challenges: tuple[str, ...] = ()


class InsufficientTokenScope(OAuthError):
    """The access token is valid but lacks required scopes (``insufficient_scope``, 403).

    Attributes:
        missing: The required scopes that were not granted, sorted.
        challenges: The ``WWW-Authenticate`` values to send with the 403 (RFC 6750
            section 3.1).

    .. versionadded:: 0.1.0
    """

    code = "oauth_insufficient_scope"
    message = "insufficient scope"
    error = "insufficient_scope"
    status = 403
    challenges: tuple[str, ...] = ()

    def __init__(
        self, reason: str = "", *, missing: tuple[str, ...] = (), description: str | None = None
    ) -> None:
        self.missing: tuple[str, ...] = tuple(sorted(missing))
        super().__init__(
            reason or "missing scopes: " + " ".join(self.missing), description=description
        )
