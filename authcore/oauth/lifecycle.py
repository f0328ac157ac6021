"""The lifecycles of OAuth artefacts as transition tables: the one home of every state rule.

Three tables, one per artefact kind, each a ``Mapping[(State, type[Event]), State]``.  A pair
absent from a table is illegal: :func:`transition` raises
:class:`~authcore.errors.ProtocolMisuseError` for it (h2: "anything not in this map is
invalid").  The grant decisions compute every new state through :func:`transition`; the
diagrams in the documentation are generated from these tables by ``docs/gen_oauth_diagrams.py``
and a test checks they are current.

* Authorization code (RFC 6749 section 4.1.2, section 10.5; OAuth 2.1 "Reuse of
  Authorization Codes"): issued, redeemed once, expired, or replayed (a second redemption,
  which revokes the grant when it is otherwise valid).
* Refresh token (RFC 9700 section 4.14.2): active until rotated; presenting a rotated token
  is reuse and revokes the family; revocation and expiry are terminal.
* Device code (RFC 8628 section 3.5): pending (or told to slow down) until the user approves
  or denies it, then redeemed once; expiry is terminal from any state before redemption.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, TypeVar

from authcore.errors import ProtocolMisuseError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "CODE_TRANSITIONS",
    "DEVICE_TRANSITIONS",
    "REFRESH_TRANSITIONS",
    "Approve",
    "CodeState",
    "Deny",
    "DeviceState",
    "Event",
    "Expire",
    "Poll",
    "PollTooSoon",
    "Redeem",
    "RefreshState",
    "Replay",
    "Reuse",
    "Revoke",
    "Rotate",
    "transition",
]


class CodeState(enum.Enum):
    """Where an authorization code stands."""

    ISSUED = "issued"
    """Handed to the client's redirect URI; redeemable until it expires."""
    REDEEMED = "redeemed"
    """Exchanged for tokens once; any later redemption is a replay."""
    EXPIRED = "expired"
    """Its lifetime ended before redemption."""
    REPLAYED = "replayed"
    """Presented again after redemption with an otherwise valid request; grant revoked."""


class RefreshState(enum.Enum):
    """Where a refresh token stands within its family."""

    ACTIVE = "active"
    """The family's current refresh token."""
    ROTATED = "rotated"
    """Exchanged for a successor; kept (not deleted) so reuse can be detected."""
    REUSE_DETECTED = "reuse_detected"
    """A rotated token was presented again; the whole family is revoked."""
    REVOKED = "revoked"
    """Revoked (RFC 7009, a family revocation, or a code replay)."""
    EXPIRED = "expired"
    """Past its absolute or idle lifetime."""


class DeviceState(enum.Enum):
    """Where a device code (RFC 8628) stands."""

    PENDING = "pending"
    """Waiting for the user; polls answer ``authorization_pending``."""
    SLOW_DOWN = "slow_down"
    """The last poll came too soon; the interval grew by 5 s."""
    APPROVED = "approved"
    """The user approved; the next poll redeems it."""
    DENIED = "denied"
    """The user denied; polls answer ``access_denied``."""
    REDEEMED = "redeemed"
    """Exchanged for tokens once; later polls answer ``invalid_grant``."""
    EXPIRED = "expired"
    """Its lifetime ended; polls answer ``expired_token``."""


@dataclass(frozen=True, slots=True)
class Event:
    """Base of the lifecycle events (a closed set: the subclasses below)."""


@dataclass(frozen=True, slots=True)
class Redeem(Event):
    """A valid redemption (code at the token endpoint, approved device code polled)."""


@dataclass(frozen=True, slots=True)
class Replay(Event):
    """A used code presented again with an otherwise valid request."""


@dataclass(frozen=True, slots=True)
class Expire(Event):
    """The artefact's lifetime ended."""


@dataclass(frozen=True, slots=True)
class Rotate(Event):
    """A refresh token was exchanged for its successor."""


@dataclass(frozen=True, slots=True)
class Reuse(Event):
    """A rotated (or revoked-by-reuse) refresh token was presented again."""


@dataclass(frozen=True, slots=True)
class Revoke(Event):
    """Revocation (RFC 7009 or a family revocation)."""


@dataclass(frozen=True, slots=True)
class Poll(Event):
    """A device poll at or after the allowed time."""


@dataclass(frozen=True, slots=True)
class PollTooSoon(Event):
    """A device poll before the current interval elapsed."""


@dataclass(frozen=True, slots=True)
class Approve(Event):
    """The user approved the device authorization."""


@dataclass(frozen=True, slots=True)
class Deny(Event):
    """The user denied the device authorization."""


_C = CodeState
_R = RefreshState
_D = DeviceState

CODE_TRANSITIONS: Final[Mapping[tuple[CodeState, type[Event]], CodeState]] = MappingProxyType(
    {
        (_C.ISSUED, Redeem): _C.REDEEMED,
        (_C.ISSUED, Expire): _C.EXPIRED,
        (_C.REDEEMED, Replay): _C.REPLAYED,
        (_C.REPLAYED, Replay): _C.REPLAYED,
    }
)
"""Authorization code lifecycle (anything absent is illegal)."""

REFRESH_TRANSITIONS: Final[Mapping[tuple[RefreshState, type[Event]], RefreshState]] = (
    MappingProxyType(
        {
            (_R.ACTIVE, Rotate): _R.ROTATED,
            (_R.ACTIVE, Revoke): _R.REVOKED,
            (_R.ACTIVE, Expire): _R.EXPIRED,
            (_R.ROTATED, Reuse): _R.REUSE_DETECTED,
            (_R.ROTATED, Revoke): _R.REVOKED,
            (_R.REUSE_DETECTED, Reuse): _R.REUSE_DETECTED,
        }
    )
)
"""Refresh token lifecycle (anything absent is illegal)."""

DEVICE_TRANSITIONS: Final[Mapping[tuple[DeviceState, type[Event]], DeviceState]] = MappingProxyType(
    {
        (_D.PENDING, Poll): _D.PENDING,
        (_D.PENDING, PollTooSoon): _D.SLOW_DOWN,
        (_D.PENDING, Approve): _D.APPROVED,
        (_D.PENDING, Deny): _D.DENIED,
        (_D.PENDING, Expire): _D.EXPIRED,
        (_D.SLOW_DOWN, Poll): _D.PENDING,
        (_D.SLOW_DOWN, PollTooSoon): _D.SLOW_DOWN,
        (_D.SLOW_DOWN, Approve): _D.APPROVED,
        (_D.SLOW_DOWN, Deny): _D.DENIED,
        (_D.SLOW_DOWN, Expire): _D.EXPIRED,
        (_D.APPROVED, Redeem): _D.REDEEMED,
        (_D.APPROVED, Expire): _D.EXPIRED,
    }
)
"""Device code lifecycle (anything absent is illegal)."""

_S = TypeVar("_S", CodeState, RefreshState, DeviceState)


def transition(table: Mapping[tuple[_S, type[Event]], _S], state: _S, event: Event) -> _S:
    """Return the state after ``event``, or refuse an illegal pair.

    Args:
        table: One of :data:`CODE_TRANSITIONS`, :data:`REFRESH_TRANSITIONS`,
            :data:`DEVICE_TRANSITIONS`.
        state: The current state.
        event: What happened.

    Returns:
        The new state.

    Raises:
        ProtocolMisuseError: If the table has no entry for ``(state, type(event))``.
    """
    try:
        return table[(state, type(event))]
    except KeyError:
        raise ProtocolMisuseError(
            f"{type(event).__name__} is not allowed in state {state.value}"
        ) from None
