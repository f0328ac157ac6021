"""Hypothesis drives random refresh, reuse, revocation and clock sequences through the server."""

from __future__ import annotations

from collections import Counter

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from authcore.oauth import Policy, RefreshToken, lifecycle
from authcore.stores.memory import MemoryGrantStore

from .helpers import ISSUER, body, make_env, post, refresh, tokens


class RefreshFamiliesMachine(RuleBasedStateMachine):
    """Whatever happens, no family ever has two live refresh tokens, and no token works twice."""

    @initialize()
    def start(self) -> None:
        self.store = MemoryGrantStore()
        policy = Policy(
            scopes=("read", "write"), refresh_token_lifetime=2000, refresh_idle_lifetime=500
        )
        self.env = make_env(store=self.store, policy=policy)
        self.seen: list[str] = []
        self.used: set[str] = set()

    @rule()
    def new_grant(self) -> None:
        self.seen.append(tokens(self.env)["refresh_token"])

    @rule(data=st.data())
    def present(self, data: st.DataObject) -> None:
        if not self.seen:
            return
        token = data.draw(st.sampled_from(self.seen))
        response = refresh(self.env, token)
        if response.status == 200:
            assert token not in self.used, "a refresh token worked twice"
            self.used.add(token)
            self.seen.append(body(response)["refresh_token"])
        else:
            assert body(response)["error"] == "invalid_grant"

    @rule(data=st.data())
    def revoke(self, data: st.DataObject) -> None:
        if not self.seen:
            return
        token = data.draw(st.sampled_from(self.seen))
        response = self.env.server.revocation_endpoint(post(ISSUER + "/revoke", {"token": token}))
        assert response.status == 200

    @rule(seconds=st.integers(0, 700))
    def wait(self, seconds: int) -> None:
        self.env.advance(seconds)

    @invariant()
    def at_most_one_live_token_per_family(self) -> None:
        if not hasattr(self, "store"):
            return
        live = Counter(
            record.family_id
            for record in self.store._records.values()
            if isinstance(record, RefreshToken)
            and record.state is lifecycle.RefreshState.ACTIVE
            and not _revoked(self.store, record.family_id)
        )
        assert all(count <= 1 for count in live.values())


def _revoked(store: MemoryGrantStore, family_id: str) -> bool:
    family = store.family(family_id)
    return family is None or family.revoked


RefreshFamiliesMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25)
TestRefreshFamilies = RefreshFamiliesMachine.TestCase
