"""Client authentication for the client role, as values (RFC 6749 section 2.3, RFC 7523, RFC 8705).

Each method is a frozen value whose :meth:`parts` returns the header fields and form
parameters a token-endpoint request (token, PAR, revocation, introspection, device
authorization) must carry:

* :class:`ClientSecretBasic`: ``Authorization: Basic`` with ``client_id`` and the secret each
  ``application/x-www-form-urlencoded`` before base64 (RFC 6749 section 2.3.1, Appendix B).
* :class:`ClientSecretPost`: ``client_id`` and ``client_secret`` in the body.
* :class:`ClientSecretJwt` / :class:`PrivateKeyJwt`: an RFC 7523 section 3 assertion, ``iss``
  = ``sub`` = ``client_id``, ``aud`` the issuer (the default, as the update of RFC 7523 in
  draft-ietf-oauth-rfc7523bis requires) or the endpoint, ``iat``, ``exp`` 60 s later and a
  fresh 256-bit ``jti``, signed with :mod:`authcore.jose`.
* :class:`NoneAuth`: public clients; ``client_id`` only.
* :class:`TlsClientAuth`: ``client_id`` only (RFC 8705 section 2); the certificate is
  presented by the TLS layer, which is the caller's job.
"""

from __future__ import annotations

import base64
import secrets
import urllib.parse
from dataclasses import dataclass, field
from typing import ClassVar, Final, Literal, TypeAlias

from authcore._options import is_choice
from authcore.errors import ConfigurationError
from authcore.jose import JWK, jwt

__all__ = [
    "ASSERTION_LIFETIME",
    "ASSERTION_TYPE",
    "ClientAuth",
    "ClientSecretBasic",
    "ClientSecretJwt",
    "ClientSecretPost",
    "NoneAuth",
    "PrivateKeyJwt",
    "TlsClientAuth",
]

ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
"""``client_assertion_type`` of RFC 7523 section 2.2."""

ASSERTION_LIFETIME: Final = 60
"""Seconds between a client assertion's ``iat`` and its ``exp``."""

_HMAC_ALGS: Final = frozenset({"HS256", "HS384", "HS512"})

AssertionAudience: TypeAlias = Literal["issuer", "endpoint"]
"""What a client assertion's ``aud`` names: the issuer identifier or the endpoint URL."""

Parts: TypeAlias = tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]
"""``(headers, params)``: what a client authentication method adds to a request."""


def _check_text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{what} must be a non-empty string")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientSecretBasic:
    """``client_secret_basic``: HTTP Basic with form-encoded credentials.

    Attributes:
        secret: The client secret (never shown by ``repr``).

    .. versionadded:: 0.1.0
    """

    method: ClassVar[str] = "client_secret_basic"
    secret: str = field(repr=False)

    def __post_init__(self) -> None:
        _check_text(self.secret, "secret")

    def parts(self, client_id: str, *, audience: str, now: float) -> Parts:  # noqa: ARG002
        """Return ``(headers, params)`` for a request by ``client_id``."""
        raw = urllib.parse.quote_plus(client_id) + ":" + urllib.parse.quote_plus(self.secret)
        value = "Basic " + base64.b64encode(raw.encode("utf-8")).decode("ascii")
        return ((("Authorization", value),), ())


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientSecretPost:
    """``client_secret_post``: ``client_id`` and ``client_secret`` in the request body.

    Attributes:
        secret: The client secret (never shown by ``repr``).

    .. versionadded:: 0.1.0
    """

    method: ClassVar[str] = "client_secret_post"
    secret: str = field(repr=False)

    def __post_init__(self) -> None:
        _check_text(self.secret, "secret")

    def parts(self, client_id: str, *, audience: str, now: float) -> Parts:  # noqa: ARG002
        """Return ``(headers, params)`` for a request by ``client_id``."""
        return ((), (("client_id", client_id), ("client_secret", self.secret)))


def _assertion(
    key: JWK, alg: str, client_id: str, audience: str, now: float
) -> tuple[tuple[str, str], ...]:
    issued = int(now)
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": issued,
        "exp": issued + ASSERTION_LIFETIME,
        "jti": secrets.token_urlsafe(32),
    }
    token = jwt.encode(claims, key, headers={"alg": alg})
    return (
        ("client_id", client_id),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", token),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientSecretJwt:
    """``client_secret_jwt``: an RFC 7523 assertion MACed with the client secret.

    Attributes:
        secret: The client secret; at least as long as the hash (32 bytes for HS256).
        alg: ``HS256`` (default), ``HS384`` or ``HS512``.
        audience: ``"issuer"`` (default) or ``"endpoint"``: what the assertion's ``aud`` names.

    Raises:
        ConfigurationError: If the secret is too short for ``alg`` or ``alg`` is not HMAC.

    .. versionadded:: 0.1.0
    """

    method: ClassVar[str] = "client_secret_jwt"
    secret: str = field(repr=False)
    alg: str = "HS256"
    audience: AssertionAudience = "issuer"
    _key: JWK = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_text(self.secret, "secret")
        if not is_choice(self.alg, _HMAC_ALGS):
            raise ConfigurationError("client_secret_jwt needs HS256, HS384 or HS512")
        _check_audience(self.audience)
        object.__setattr__(self, "_key", JWK.from_secret(self.secret.encode(), alg=self.alg))

    def parts(self, client_id: str, *, audience: str, now: float) -> Parts:
        """Return ``(headers, params)`` for a request by ``client_id``."""
        return ((), _assertion(self._key, self.alg, client_id, audience, now))


@dataclass(frozen=True, slots=True, kw_only=True)
class PrivateKeyJwt:
    """``private_key_jwt``: an RFC 7523 assertion signed with the client's private key.

    Attributes:
        key: A private asymmetric :class:`~authcore.jose.JWK` (its ``kid`` goes in the header).
        alg: The signing algorithm (default: the key's ``alg``).
        audience: ``"issuer"`` (default) or ``"endpoint"``: what the assertion's ``aud`` names.

    Raises:
        ConfigurationError: If the key is not a private asymmetric JWK or no ``alg`` is known.

    .. versionadded:: 0.1.0
    """

    method: ClassVar[str] = "private_key_jwt"
    key: JWK = field(repr=False)
    alg: str | None = None
    audience: AssertionAudience = "issuer"

    def __post_init__(self) -> None:
        key: object = self.key
        if type(key) is not JWK or self.key.is_symmetric or not self.key.is_private:
            raise ConfigurationError("private_key_jwt needs a private asymmetric JWK")
        alg = self.alg or self.key.alg
        if not isinstance(alg, str) or alg in _HMAC_ALGS:
            raise ConfigurationError("private_key_jwt needs an asymmetric alg (key or alg=)")
        jwt.encode({}, self.key, headers={"alg": alg})  # refuses an alg that does not fit, now
        object.__setattr__(self, "alg", alg)
        _check_audience(self.audience)

    def parts(self, client_id: str, *, audience: str, now: float) -> Parts:
        """Return ``(headers, params)`` for a request by ``client_id``."""
        return ((), _assertion(self.key, self.alg or "", client_id, audience, now))


@dataclass(frozen=True, slots=True, kw_only=True)
class NoneAuth:
    """``none``: a public client identifies itself with ``client_id`` only.

    .. versionadded:: 0.1.0
    """

    method: ClassVar[str] = "none"

    def parts(self, client_id: str, *, audience: str, now: float) -> Parts:  # noqa: ARG002
        """Return ``(headers, params)`` for a request by ``client_id``."""
        return ((), (("client_id", client_id),))


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsClientAuth:
    """``tls_client_auth`` / ``self_signed_tls_client_auth`` (RFC 8705 section 2).

    Only ``client_id`` goes in the body; presenting the client certificate is the TLS
    layer's job (an ``ssl.SSLContext`` with ``load_cert_chain``, or ``httpx``'s ``cert=``).

    Attributes:
        self_signed: ``True`` for ``self_signed_tls_client_auth``.

    .. versionadded:: 0.1.0
    """

    method: ClassVar[str] = "tls_client_auth"
    self_signed: bool = False

    def parts(self, client_id: str, *, audience: str, now: float) -> Parts:  # noqa: ARG002
        """Return ``(headers, params)`` for a request by ``client_id``."""
        return ((), (("client_id", client_id),))


def _check_audience(value: object) -> None:
    if not is_choice(value, ("issuer", "endpoint")):
        raise ConfigurationError('audience must be "issuer" or "endpoint"')


ClientAuth: TypeAlias = (
    ClientSecretBasic
    | ClientSecretPost
    | ClientSecretJwt
    | PrivateKeyJwt
    | NoneAuth
    | TlsClientAuth
)
"""Any client authentication method value."""


def assertion_audience(auth: ClientAuth, *, issuer: str, endpoint: str) -> str:
    """The ``aud`` a JWT assertion of ``auth`` names for a request to ``endpoint``."""
    if isinstance(auth, (ClientSecretJwt, PrivateKeyJwt)) and auth.audience == "endpoint":
        return endpoint
    return issuer
