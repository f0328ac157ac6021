"""A Hypothesis state machine drives KeyManager against a model of the key lifecycle."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from authcore import apikeys
from authcore.apikeys import KeyHasher, KeyManager
from authcore.apikeys._format import _checksum
from authcore.clock import FixedClock
from authcore.errors import (
    Disabled,
    Expired,
    InvalidCredentials,
    QuotaExhausted,
    Revoked,
    VerificationError,
)
from authcore.stores.memory import MemoryKeyStore

from .conftest import PEPPER, START


@dataclass
class _Key:
    key_id: str
    token: str
    status: str = "active"
    expires_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None  # end of a rotation grace period
    rotated: bool = False
    remaining: int | None = None


class LifecycleMachine(RuleBasedStateMachine):
    """Every (state, action) pair of the lifecycle, checked against a plain model."""

    keys = Bundle("keys")

    def __init__(self) -> None:
        super().__init__()
        self.clock = FixedClock(START)
        self.manager = KeyManager(
            MemoryKeyStore(), KeyHasher({"p1": PEPPER}), prefix="sk_test", clock=self.clock
        )
        self.model: dict[str, _Key] = {}

    def _expected(self, key: _Key) -> type[VerificationError] | None:
        now = self.clock.now()
        if key.status == "revoked":
            return Revoked
        if key.status == "disabled":
            return Disabled
        if key.ends_at is not None and now >= key.ends_at:
            return Revoked
        if key.expires_at is not None and now >= key.expires_at:
            return Expired
        if key.remaining == 0:
            return QuotaExhausted
        return None

    @rule(
        target=keys,
        lifetime=st.none() | st.integers(1, 500),
        uses=st.none() | st.integers(1, 3),
    )
    def create(self, lifetime: int | None, uses: int | None) -> str:
        expires = None if lifetime is None else self.clock.now() + dt.timedelta(seconds=lifetime)
        issued = self.manager.create(owner="o", expires_at=expires, remaining_uses=uses)
        key_id = issued.record.key_id
        self.model[key_id] = _Key(key_id, issued.token, expires_at=expires, remaining=uses)
        return key_id

    @rule(key_id=keys)
    def verify(self, key_id: str) -> None:
        key = self.model[key_id]
        expected = self._expected(key)
        if expected is None:
            record = self.manager.verify(key.token)
            assert record.key_id == key_id
            if key.remaining is not None:
                key.remaining -= 1
                assert record.remaining_uses == key.remaining
        else:
            with pytest.raises(expected):
                self.manager.verify(key.token)

    @rule(key_id=keys)
    def verify_wrong_secret(self, key_id: str) -> None:
        body = key_id + apikeys.generate("sk_test").secret
        with pytest.raises(InvalidCredentials):
            self.manager.verify(f"sk_test_{body}{_checksum(body)}")

    @rule(key_id=keys)
    def revoke(self, key_id: str) -> None:
        self.manager.revoke(key_id)
        self.model[key_id].status = "revoked"

    @rule(key_id=keys)
    def disable(self, key_id: str) -> None:
        key = self.model[key_id]
        if key.status == "revoked":
            with pytest.raises(Revoked):
                self.manager.disable(key_id)
        else:
            self.manager.disable(key_id)
            key.status = "disabled"

    @rule(key_id=keys)
    def enable(self, key_id: str) -> None:
        key = self.model[key_id]
        if key.status == "revoked":
            with pytest.raises(Revoked):
                self.manager.enable(key_id)
        else:
            self.manager.enable(key_id)
            key.status = "active"

    @rule(target=keys, key_id=consumes(keys), grace=st.integers(0, 300))
    def rotate(self, key_id: str, grace: int) -> str:
        key = self.model[key_id]
        now = self.clock.now()
        if key.status == "revoked" or key.rotated or (key.ends_at and now >= key.ends_at):
            with pytest.raises(Revoked):
                self.manager.rotate(key_id, grace=grace)
            return key_id
        new = self.manager.rotate(key_id, grace=grace)
        key.rotated = True
        key.ends_at = now + dt.timedelta(seconds=grace)
        self.model[new.record.key_id] = _Key(
            new.record.key_id,
            new.token,
            status=key.status,
            expires_at=key.expires_at,
            remaining=key.remaining,
        )
        return new.record.key_id

    @rule(seconds=st.integers(0, 400))
    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @invariant()
    def store_agrees_with_model(self) -> None:
        now = self.clock.now()
        for key_id, key in self.model.items():
            record = self.manager.get(key_id)
            assert record.status.value == key.status
            assert record.remaining_uses == key.remaining
            assert record.usable_at(now) == (self._expected(key) in (None, QuotaExhausted))


TestLifecycle = LifecycleMachine.TestCase
TestLifecycle.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
