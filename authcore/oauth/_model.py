"""Records, effects, decisions and the store protocols of the authorization server.

Theory of operation: a grant decision is a pure function of the parsed request, the records a
driver loaded, the policy, ``now`` and pre-generated random values.  It returns a
:class:`Decision`: the HTTP response and the effects that must be applied for it to be true.
Each effect carries its precondition (compare-and-set on a record's ``version``, absence for an
insert), and a store applies a decision's effects all-or-nothing: every precondition holds and
every write lands, or nothing is written and :meth:`GrantStore.apply` returns ``False``.  The
driver then reloads and decides once more, which turns the loser of two concurrent
redemptions into a replay.  Nothing here takes a callback, so a store can implement ``apply``
as one SQL transaction, one PostgreSQL statement or one Redis script.

Every artefact carries ``family_id`` (the grant it belongs to) and is keyed by ``digest``:
``b64url(SHA-256(secret))`` of a 256-bit random value, so a store never holds a usable secret.
Times are UNIX seconds (``float``).
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeAlias, runtime_checkable

from authcore._encoding import b64url_encode
from authcore.oauth.lifecycle import CodeState, DeviceState, RefreshState

if TYPE_CHECKING:
    from collections.abc import Sequence

    from authcore.http import Response
    from authcore.oauth._clients import ClientRecord

__all__ = [
    "AccessToken",
    "Artefact",
    "AsyncClientStore",
    "AsyncGrantStore",
    "AuthorizationCode",
    "ClientStore",
    "Decision",
    "DeviceCode",
    "Effect",
    "Family",
    "GrantStore",
    "Insert",
    "PushedRequest",
    "RefreshToken",
    "RevokeFamily",
    "SaveFamily",
    "TokenFormat",
    "Update",
    "UserCode",
    "digest",
]


def digest(secret: str) -> str:
    """Return the storage key of a secret: unpadded base64url of its SHA-256.

    Secrets are 256-bit random values, so an unsalted hash cannot be inverted by search.
    """
    return b64url_encode(hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest())


class TokenFormat(enum.Enum):
    """How access tokens are issued."""

    JWT = "jwt"
    """RFC 9068 JWTs signed by the server's key ring (recorded by ``jti``)."""
    OPAQUE = "opaque"
    """Random strings, stored as digests; resource servers introspect them."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Family:
    """One grant: everything issued from one authorization (its tokens share the family).

    Attributes:
        family_id: The grant family id.
        client_id: The client the grant was issued to.
        subject: The resource owner (``None`` for ``client_credentials``).
        scope: The granted scopes (sorted).
        resource: The granted resource indicators (RFC 8707), sorted.
        created_at: When the grant was first issued.
        expires_at: The absolute end of the refresh family.
        revoked: Whether the whole family is revoked.
        cnf: Confirmation members of sender-constrained tokens (``x5t#S256``, later ``jkt``).
        version: Compare-and-set counter.
    """

    family_id: str
    client_id: str
    subject: str | None
    scope: tuple[str, ...]
    resource: tuple[str, ...] = ()
    created_at: float
    expires_at: float
    revoked: bool = False
    cnf: tuple[tuple[str, str], ...] = ()
    version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorizationCode:
    """An issued authorization code (RFC 6749 section 4.1.2), stored by digest.

    Attributes:
        redirect_uri: The redirect URI the code was sent to.
        redirect_uri_sent: Whether the authorization request named it (then the token
            request must repeat it, RFC 6749 section 4.1.3).
        code_challenge: The PKCE challenge, or ``None``.
        code_challenge_method: ``"S256"`` (or ``"plain"`` when enabled).
        dpop_jkt: The DPoP key thumbprint the code is bound to (RFC 9449 section 10), or
            ``None``.
    """

    digest: str
    family_id: str
    client_id: str
    subject: str
    scope: tuple[str, ...]
    resource: tuple[str, ...] = ()
    redirect_uri: str
    redirect_uri_sent: bool
    code_challenge: str | None
    code_challenge_method: str | None
    dpop_jkt: str | None = None
    issued_at: float
    expires_at: float
    state: CodeState = CodeState.ISSUED
    version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessToken:
    """An issued access token, keyed by the digest of the opaque token or of the JWT ``jti``."""

    digest: str
    family_id: str
    client_id: str
    subject: str | None
    scope: tuple[str, ...]
    audience: tuple[str, ...] = ()
    issued_at: float
    expires_at: float
    revoked: bool = False
    cnf: tuple[tuple[str, str], ...] = ()
    version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class RefreshToken:
    """A refresh token of a family (RFC 9700 section 4.14.2).

    Attributes:
        expires_at: The idle deadline (never after the family's absolute ``expires_at``).
        last_used_at: When it was issued or last used (rotation off).
    """

    digest: str
    family_id: str
    client_id: str
    scope: tuple[str, ...]
    issued_at: float
    expires_at: float
    last_used_at: float
    state: RefreshState = RefreshState.ACTIVE
    version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceCode:
    """A device authorization (RFC 8628 section 3.2).

    Attributes:
        interval: The current minimum polling interval in seconds (grows by 5 on slow_down).
        next_poll_at: The earliest time the next poll is answered without ``slow_down``.
        subject: Who approved (``None`` until approved).
        scope: Requested scopes, replaced by the approved ones.
    """

    digest: str
    user_code_digest: str
    family_id: str
    client_id: str
    scope: tuple[str, ...]
    resource: tuple[str, ...] = ()
    issued_at: float
    expires_at: float
    interval: int
    next_poll_at: float
    subject: str | None = None
    state: DeviceState = DeviceState.PENDING
    version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class UserCode:
    """The index from a device flow's user code (digest) to its device code (digest)."""

    digest: str
    device_digest: str
    family_id: str
    expires_at: float
    version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class PushedRequest:
    """A pushed authorization request (RFC 9126), single use, bound to its client.

    Attributes:
        parameters: The pushed parameters, as ``(name, value)`` pairs.
        used: Whether a ``request_uri`` redemption consumed it.
    """

    digest: str
    family_id: str
    client_id: str
    parameters: tuple[tuple[str, str], ...]
    issued_at: float
    expires_at: float
    used: bool = False
    version: int = 1


Artefact: TypeAlias = (
    AuthorizationCode | AccessToken | RefreshToken | DeviceCode | UserCode | PushedRequest
)
"""Any record a :class:`GrantStore` keeps by digest."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Insert:
    """Store a new record; the precondition is that no record has its digest."""

    record: Artefact


@dataclass(frozen=True, slots=True, kw_only=True)
class Update:
    """Replace a record; the precondition is that the stored one has ``expected_version``.

    This is compare-and-set: consuming a code (``ISSUED`` to ``REDEEMED``), rotating a refresh
    token (``ACTIVE`` to ``ROTATED``) and every device-code step are updates.
    """

    record: Artefact
    expected_version: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SaveFamily:
    """Create (``expected_version=None``: absent) or replace a family (version must match)."""

    family: Family
    expected_version: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RevokeFamily:
    """Revoke a whole family: every artefact of it stops being valid (no precondition).

    A store creates a revoked tombstone when the family does not exist yet, so tokens cannot
    be issued into it later.
    """

    family_id: str
    client_id: str
    at: float


Effect: TypeAlias = Insert | Update | SaveFamily | RevokeFamily
"""One state change a decision needs; a store applies a decision's effects atomically."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """What a grant decided: the response to send and the effects that make it true.

    Attributes:
        response: The HTTP response.
        effects: State changes to apply all-or-nothing before the response is sent.
    """

    response: Response
    effects: tuple[Effect, ...] = ()


@runtime_checkable
class ClientStore(Protocol):
    """Where registered clients are found.

    .. versionadded:: 0.1.0
    """

    def get(self, client_id: str) -> ClientRecord | None:
        """Return the client registered as ``client_id``, or ``None``."""
        ...


@runtime_checkable
class GrantStore(Protocol):
    """Artefacts by digest, families by id, and one atomic ``apply``.

    The refresh-family component (:class:`~authcore.oauth.RefreshFamilies`) needs only this
    protocol, so a first-party session issuer can share the store.

    .. versionadded:: 0.1.0
    """

    def get(self, digest: str) -> Artefact | None:
        """Return the record stored under ``digest`` (whatever its state), or ``None``."""
        ...

    def family(self, family_id: str) -> Family | None:
        """Return the family ``family_id``, or ``None``."""
        ...

    def apply(self, effects: Sequence[Effect]) -> bool:
        """Apply every effect or none.

        Returns:
            ``True`` when every precondition held and every write landed; ``False`` (and
            nothing written) when one precondition failed.

        Raises:
            StoreError: If the backend failed; nothing was written.
        """
        ...


@runtime_checkable
class AsyncClientStore(Protocol):
    """The ``async`` mirror of :class:`ClientStore`.

    .. versionadded:: 0.1.0
    """

    async def get(self, client_id: str) -> ClientRecord | None:
        """Return the client registered as ``client_id``, or ``None``."""
        ...


@runtime_checkable
class AsyncGrantStore(Protocol):
    """The ``async`` mirror of :class:`GrantStore`.

    .. versionadded:: 0.1.0
    """

    async def get(self, digest: str) -> Artefact | None:
        """Return the record stored under ``digest``, or ``None``."""
        ...

    async def family(self, family_id: str) -> Family | None:
        """Return the family ``family_id``, or ``None``."""
        ...

    async def apply(self, effects: Sequence[Effect]) -> bool:
        """Apply every effect or none; ``False`` when a precondition failed."""
        ...
