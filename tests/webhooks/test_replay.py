"""Webhook replay protection over authcore.onetime.OneTimeStore."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from authcore.errors import ConfigurationError, MalformedHeader, Replayed
from authcore.stores.memory import MemoryOneTimeStore
from authcore.stores.sqlite import SQLiteOneTimeStore
from authcore.webhooks import (
    WebhookVerifier,
    generate_signing_key,
    github,
    public_key,
    sign,
    stripe,
    verify,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from authcore.onetime import OneTimeStore

SECRET = "whsec_" + "A" * 32


def test_bad_replay_cache_arguments_are_configuration_errors() -> None:
    """An object that is not a OneTimeStore is refused at setup, naming the option."""
    with pytest.raises(ConfigurationError, match="replay_cache"):
        WebhookVerifier(SECRET, replay_cache=object())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="replay_cache"):
        verify(b"", {}, SECRET, replay_cache=object())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="replay_cache"):
        stripe.verify(b"", "t=1,v1=a", "s", replay_cache=object())  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- issue 12 item 1
# A replay key names the EVENT: the same event re-sent with other signatures (another
# secret's entry, entries reordered, repeated, mixed with junk or other versions) must be
# refused, whatever matched the first time.

NOW = 1_700_000_000
BODY = b'{"id":"evt_1","type":"invoice.paid"}'
S1, S2 = "whsec_" + "A" * 32, "whsec_" + "B" * 32


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OneTimeStore]:
    """Each one-time store implementation."""
    if request.param == "memory":
        yield MemoryOneTimeStore()
        return
    sqlite_store = SQLiteOneTimeStore(tmp_path / "replay.db")
    yield sqlite_store
    sqlite_store.close()


def _stripe_entries(*secrets: str, t: int = NOW, body: bytes = BODY) -> list[str]:
    return [stripe.sign(body, s, timestamp=t).split(",")[1] for s in secrets]


@pytest.mark.parametrize(
    "second",
    [
        ["v1(s2)"],
        ["v1(s1)"],
        ["v1(s2)", "v1(s1)"],
        ["v1(s1)", "v1(s1)"],
        ["v0(junk)", "v1(s2)"],
        ["v1(junk)", "v1(s2)", "v1(junk)"],
    ],
    ids=repr,
)
@pytest.mark.parametrize("first", [["v1(s1)"], ["v1(s1)", "v1(s2)"], ["v1(s2)"]], ids=repr)
def test_stripe_replay_keys_on_timestamp_and_payload(
    store: OneTimeStore, first: list[str], second: list[str]
) -> None:
    """A Stripe event accepted once is refused again whichever v1 entries carry it."""
    v1_s1, v1_s2 = _stripe_entries(S1, S2)
    parts = {"v1(s1)": v1_s1, "v1(s2)": v1_s2, "v1(junk)": "v1=" + "0" * 64, "v0(junk)": "v0=ab"}

    def header(names: list[str]) -> str:
        return ",".join([f"t={NOW}", *(parts[n] for n in names)])

    secrets = [S1, S2]
    assert stripe.verify(BODY, header(first), secrets, now=NOW, replay_cache=store).key_index >= 0
    with pytest.raises(Replayed):
        stripe.verify(BODY, header(second), secrets, now=NOW + 1, replay_cache=store)
    with pytest.raises(Replayed):  # the secrets listed in another order: the same event
        stripe.verify(BODY, header(second), secrets[::-1], now=NOW + 2, replay_cache=store)


def test_stripe_other_events_are_not_replays(store: OneTimeStore) -> None:
    """Another payload, or the same payload at another signed time, is another event."""
    secrets = [S1, S2]
    first = stripe.sign(BODY, S1, timestamp=NOW)
    assert stripe.verify(BODY, first, secrets, now=NOW, replay_cache=store).key_index == 0
    other = BODY + b" "
    signed = stripe.sign(other, S2, timestamp=NOW)
    assert stripe.verify(other, signed, secrets, now=NOW, replay_cache=store).payload == other
    later = stripe.sign(BODY, S2, timestamp=NOW + 30)
    assert stripe.verify(BODY, later, secrets, now=NOW + 30, replay_cache=store).timestamp


def _standard_signatures(msg_id: str, t: int) -> dict[str, str]:
    signing = generate_signing_key()
    both = sign(BODY, [S1, S2, signing], msg_id=msg_id, timestamp=t)["webhook-signature"]
    v1_s1, v1_s2, v1a = both.split(" ")
    return {"v1(s1)": v1_s1, "v1(s2)": v1_s2, "v1a": v1a, "public": public_key(signing)}


@pytest.mark.parametrize(
    "second",
    [
        ["v1(s2)"],
        ["v1a"],
        ["v1(s2)", "v1(s1)"],
        ["v1(s1)", "v1(s1)"],
        ["v2,whatever", "v1(s1)"],
        ["v1a", "v1(s2)"],
    ],
    ids=repr,
)
@pytest.mark.parametrize("path", ["verifier-dict", "verifier-pairs", "module"])
def test_standard_replay_keys_on_webhook_id(
    store: OneTimeStore, second: list[str], path: str
) -> None:
    """A Standard Webhooks message is accepted once, whichever signatures re-carry it."""
    entries = _standard_signatures("msg_replay", NOW)
    secrets = [S1, S2, entries["public"]]
    entries["v2,whatever"] = "v2,whatever"

    def headers(names: list[str], t: int = NOW) -> dict[str, str]:
        return {
            "webhook-id": "msg_replay",
            "webhook-timestamp": str(t),
            "webhook-signature": " ".join(entries[n] for n in names),
        }

    verifier = WebhookVerifier(secrets, replay_cache=store)

    def check(h: dict[str, str], now: int) -> object:
        if path == "verifier-dict":
            return verifier.verify(BODY, h, now=now)
        if path == "verifier-pairs":
            return verifier.verify(BODY, list(h.items()), now=now)
        return verify(BODY, h, secrets, now=now, replay_cache=store)

    assert check(headers(["v1(s1)"]), NOW)
    with pytest.raises(Replayed):
        check(headers(second), NOW + 1)
    # A retry of the same message (new timestamp, new signatures) inside the window is the
    # same event too.
    retried = sign(BODY, S2, msg_id="msg_replay", timestamp=NOW + 5)
    with pytest.raises(Replayed):
        check(retried, NOW + 5)
    assert check(sign(BODY, S2, msg_id="msg_other", timestamp=NOW), NOW)


def test_standard_replay_entry_outlives_the_tolerance_only(store: OneTimeStore) -> None:
    """Once the first delivery's timestamp leaves the tolerance, a later retry is accepted."""
    verifier = WebhookVerifier(S1, tolerance=10, replay_cache=store)
    assert verifier.verify(BODY, sign(BODY, S1, msg_id="m", timestamp=NOW), now=NOW).msg_id
    with pytest.raises(Replayed):
        verifier.verify(BODY, sign(BODY, S1, msg_id="m", timestamp=NOW + 5), now=NOW + 5)
    retry = sign(BODY, S1, msg_id="m", timestamp=NOW + 12)
    assert verifier.verify(BODY, retry, now=NOW + 12).msg_id == "m"


def _github_headers(secret: str, delivery: str, *, upper: bool = False) -> dict[str, str]:
    names = ("X-Hub-Signature-256", "X-GitHub-Delivery")
    if not upper:
        names = (names[0].lower(), names[1].lower())
    return {names[0]: github.sign(BODY, secret), names[1]: delivery}


@pytest.mark.parametrize(
    "second",
    [
        {"secret": S2},
        {"secret": S1},
        {"secret": S2, "upper": True},
        {"secret": S1, "pairs": True},
    ],
    ids=repr,
)
def test_github_replay_keys_on_delivery_and_payload(
    store: OneTimeStore, second: dict[str, object]
) -> None:
    """A GitHub delivery is accepted once, whichever secret signed the repeat."""
    secrets = [S1, S2]
    guid = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    first = _github_headers(S1, guid)
    assert github.verify(BODY, first, secrets, replay_cache=store, now=NOW).key_index == 0
    again: object = _github_headers(str(second["secret"]), guid, upper=bool(second.get("upper")))
    if second.get("pairs"):
        again = list(again.items())  # type: ignore[attr-defined]
    with pytest.raises(Replayed):
        github.verify(BODY, again, secrets, replay_cache=store, now=NOW + 60)  # type: ignore[arg-type]
    # Another delivery id or another payload is another event.
    other = _github_headers(S2, "0b7c5f3a-cc78-11e3-81ab-4c9367dc0958")
    assert github.verify(BODY, other, secrets, replay_cache=store, now=NOW).key_index == 1
    # Forgotten after the TTL.
    later = NOW + github.DEFAULT_REPLAY_TTL + 1
    assert github.verify(BODY, first, secrets, replay_cache=store, now=later).key_index == 0


_OK = {"x-hub-signature-256": "sha256=" + "0" * 64, "x-github-delivery": "d"}


@pytest.mark.parametrize(
    ("headers", "kwargs", "error"),
    [
        ("sha256=" + "0" * 64, {}, ConfigurationError),  # a bare value: no delivery id
        ({"x-hub-signature-256": "sha256=" + "0" * 64}, {}, MalformedHeader),
        ({"x-github-delivery": "abc"}, {}, MalformedHeader),
        ({"x-hub-signature-256": "x", "x-github-delivery": "a b"}, {}, MalformedHeader),
        (_OK, {"replay_ttl": 0}, ConfigurationError),
        (_OK, {"replay_ttl": True}, ConfigurationError),
        (_OK, {"replay_ttl": float("inf")}, ConfigurationError),
    ],
)  # fmt: skip
def test_github_replay_misuse_is_typed(
    headers: object, kwargs: dict[str, object], error: type[Exception]
) -> None:
    """With a replay cache, GitHub needs all headers, a delivery id and a positive TTL."""
    with pytest.raises(error):
        github.verify(BODY, headers, S1, replay_cache=MemoryOneTimeStore(), **kwargs)  # type: ignore[arg-type]
