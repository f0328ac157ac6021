"""The transition tables: every (state, event) pair is either in the table or refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authcore.errors import ProtocolMisuseError
from authcore.oauth import lifecycle as lc

if TYPE_CHECKING:
    import enum

EVENTS: tuple[type[lc.Event], ...] = (
    lc.Redeem,
    lc.Replay,
    lc.Expire,
    lc.Rotate,
    lc.Reuse,
    lc.Revoke,
    lc.Poll,
    lc.PollTooSoon,
    lc.Approve,
    lc.Deny,
)
TABLES: tuple[tuple[object, type[enum.Enum]], ...] = (
    (lc.CODE_TRANSITIONS, lc.CodeState),
    (lc.REFRESH_TRANSITIONS, lc.RefreshState),
    (lc.DEVICE_TRANSITIONS, lc.DeviceState),
)


@given(
    table_index=st.integers(0, len(TABLES) - 1),
    state_index=st.integers(0, 10),
    event=st.sampled_from(EVENTS),
)
def test_every_pair_is_in_the_table_or_refused(
    table_index: int, state_index: int, event: type[lc.Event]
) -> None:
    """transition() returns the table's entry and raises ProtocolMisuseError for absent pairs."""
    table, states = TABLES[table_index]
    members = list(states)
    state = members[state_index % len(members)]
    mapping = dict(table)  # type: ignore[call-overload]
    if (state, event) in mapping:
        assert lc.transition(table, state, event()) is mapping[(state, event)]  # type: ignore[arg-type, type-var]
    else:
        with pytest.raises(ProtocolMisuseError):
            lc.transition(table, state, event())  # type: ignore[arg-type, type-var]


def test_tables_are_exhaustively_checked() -> None:
    """Each table maps only its own states, every non-initial state is reachable."""
    for table, states in TABLES:
        mapping = dict(table)  # type: ignore[call-overload]
        assert all(isinstance(s, states) and isinstance(t, states) for (s, _), t in mapping.items())
        initial = next(iter(states))
        reachable = {initial}
        changed = True
        while changed:
            changed = False
            for (source, _), target in mapping.items():
                if source in reachable and target not in reachable:
                    reachable.add(target)
                    changed = True
        assert reachable == set(states)


def test_tables_are_immutable() -> None:
    """The tables cannot be changed at run time."""
    with pytest.raises(TypeError):
        lc.CODE_TRANSITIONS[(lc.CodeState.EXPIRED, lc.Redeem)] = lc.CodeState.REDEEMED  # type: ignore[index]


def test_terminal_states_accept_nothing_that_revives_them() -> None:
    """An expired or redeemed code can never be redeemed; a revoked refresh token never rotates."""
    for state in (lc.CodeState.EXPIRED, lc.CodeState.REDEEMED, lc.CodeState.REPLAYED):
        with pytest.raises(ProtocolMisuseError):
            lc.transition(lc.CODE_TRANSITIONS, state, lc.Redeem())
    for refresh in (lc.RefreshState.REVOKED, lc.RefreshState.ROTATED, lc.RefreshState.EXPIRED):
        with pytest.raises(ProtocolMisuseError):
            lc.transition(lc.REFRESH_TRANSITIONS, refresh, lc.Rotate())
    for device in (lc.DeviceState.DENIED, lc.DeviceState.REDEEMED, lc.DeviceState.EXPIRED):
        with pytest.raises(ProtocolMisuseError):
            lc.transition(lc.DEVICE_TRANSITIONS, device, lc.Redeem())
