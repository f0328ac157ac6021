"""Standard Webhooks ``v1`` verification against the floor and ``standardwebhooks``.

The floor does the work ``WebhookVerifier.verify`` does for a delivery with one ``v1,``
signature, each step the fastest plain way: read the three headers from the dict; refuse a
second spelling of any of them (the key names lower-cased and counted once per set of names,
then remembered: a sender repeats one set); one regular-expression match of
``{id}.{timestamp}.`` (the id visible ASCII without ``.``, the timestamp canonical decimal,
as authcore requires); the timestamp against :func:`authcore.clock.unix_now` (the clock
authcore reads when no ``now`` is given) and the 5-minute tolerance, in both directions; the
MAC of ``id.timestamp.payload`` with a ``cryptography`` HMAC keyed once before timing (a copy
per call; one concatenation for bodies up to 16 KiB, two updates above, decided per call
from the body's length, as a receiver must: it learns the length with the body); its base64 by
``binascii`` and ``compare_digest`` with the header's entry; and it returns the five values
of the result (id, timestamp, payload, version, key index) as a tuple.  authcore's result is
a frozen dataclass instead (filled on an unfrozen twin, then given its class:
``authcore._frozen``), and it checks the types of its inputs (it accepts any headers form and
falls back to a general path for several signatures or ``v1a``): those are its extra work.
Both compare with ``compare_digest`` directly.

Each delivery is signed at build time with the current time, so the default ``now`` (the
wall clock) is what is measured, as in production.  Three payload sizes: a small event, a
typical ~1 KiB one and a ~16 KiB one (the size of a GitHub push event).

``authcore verify()`` is the one-shot function: it parses the secret and keys the HMAC on
every call and keeps nothing, by design (no module-level cache holds a key or a secret: a
cache would keep secrets the caller has dropped or rotated out alive, shared by the whole
process); a receiver verifying many deliveries builds one ``WebhookVerifier``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import importlib
import json
import re
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

from authcore._bench import Group
from authcore.clock import unix_now, utc_now
from authcore.webhooks import WebhookVerifier, sign, verify

if TYPE_CHECKING:
    from collections.abc import Callable

NAME = "webhooks"

_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 - the public spec vector
_MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
_TOLERANCE = 300
_CONCAT_LIMIT = 16384
_SMALL = b'{"test": 2432232314}'
_TYPICAL = json.dumps(
    {
        "type": "invoice.paid",
        "timestamp": "2026-11-29T10:00:00.000000Z",
        "data": {
            "id": "in_1QpLk2Eu8Xq7aZ0b",
            "customer": "cus_R2x9c8VbN4mK1p",
            "amount_paid": 4200,
            "currency": "eur",
            "lines": [
                {"id": f"il_{i:04d}", "description": "Pro plan (monthly)", "amount": 1400}
                for i in range(3)
            ],
            "metadata": {"order": "A-10293", "note": "x" * 600},
        },
    },
    separators=(",", ":"),
).encode()


def _floor(headers: dict[str, str], payload: bytes) -> Callable[[], object]:
    """The floor: the receiver's required work, each step the fastest plain way."""
    keyed = crypto_hmac.HMAC(base64.b64decode(_SECRET.removeprefix("whsec_")), hashes.SHA256())
    b2a = binascii.b2a_base64
    compare = hmac.compare_digest
    # Visible ASCII but "." for the id, then a canonical decimal timestamp.
    signed_prefix = re.compile(r"[!-\-/-~]{1,256}\.(?:0|[1-9][0-9]{0,15})\.")
    exact_names: dict[tuple[str, ...], bool] = {}

    def floor() -> object:
        msg_id = headers["webhook-id"]
        ts_text = headers["webhook-timestamp"]
        sig_text = headers["webhook-signature"]
        names = tuple(headers)
        exact = exact_names.get(names)
        if exact is None:  # no other spelling of the three names
            exact = exact_names[names] = "\n".join(names).lower().count("webhook-") == 3  # noqa: PLR2004
        prefix_text = f"{msg_id}.{ts_text}."
        if not exact or signed_prefix.fullmatch(prefix_text) is None:
            raise AssertionError("headers")
        timestamp = int(ts_text)
        if abs(unix_now() - timestamp) > _TOLERANCE or sig_text[:3] != "v1,":
            raise AssertionError("timestamp or version")
        mac = keyed.copy()
        prefix = prefix_text.encode()
        if len(payload) <= _CONCAT_LIMIT:
            mac.update(prefix + payload)
        else:
            mac.update(prefix)
            mac.update(payload)
        if not compare(b2a(mac.finalize(), newline=False), sig_text[3:].encode()):
            raise AssertionError("signature")
        return (msg_id, timestamp, payload, "v1", 0)

    return floor


def _group(label: str, payload: bytes) -> Group:
    timestamp = int(utc_now().timestamp())
    headers = {
        # What a framework hands over: a handful of other fields around the three we read.
        "host": "hooks.example",
        "user-agent": "Svix-Webhooks/1.0",
        "content-type": "application/json",
        "content-length": str(len(payload)),
        **sign(payload, _SECRET, msg_id=_MSG_ID, timestamp=timestamp),
    }
    floor = _floor(headers, payload)

    verifier = WebhookVerifier(_SECRET)

    def authcore_verifier() -> object:
        return verifier.verify(payload, headers)

    def authcore_verify() -> object:
        return verify(payload, headers, _SECRET)

    cases: dict[str, Any] = {
        "floor": floor,
        "authcore WebhookVerifier": authcore_verifier,
        "authcore verify()": authcore_verify,
    }
    if floor() != (_MSG_ID, timestamp, payload, "v1", 0):  # pragma: no cover - smoke check
        raise AssertionError("floor does not verify its own signature")
    for name in ("authcore WebhookVerifier", "authcore verify()"):
        if cases[name]().msg_id != _MSG_ID:  # pragma: no cover - smoke check
            raise AssertionError(f"{name} returned the wrong message")
    try:
        standardwebhooks: Any = importlib.import_module("standardwebhooks")
    except ImportError:  # pragma: no cover - peer not installed
        standardwebhooks = None
    if standardwebhooks is not None:
        peer = standardwebhooks.Webhook(_SECRET)

        def peer_verify() -> object:
            # json_parse=False: compare signature checking only, not JSON decoding.
            return peer.verify(payload, headers, json_parse=False)

        peer_verify()
        cases["standardwebhooks"] = peer_verify
    return Group(
        name=f"Standard Webhooks v1 verify ({label}, {len(payload)} B)",
        floor="floor",
        cases=cases,
        note="3 headers (no repeat), id/timestamp syntax, tolerance, keyed HMAC, base64, compare",
    )


_LARGE = json.dumps(
    {
        "ref": "refs/heads/main",
        "commits": [
            {
                "id": f"{i:040x}",
                "message": "Refactor the webhook verifier " * 4,
                "author": {"name": "A. Developer", "email": "dev@example.com"},
                "added": [f"src/module_{i}_{j}.py" for j in range(8)],
                "modified": [f"tests/test_{i}_{j}.py" for j in range(8)],
            }
            for i in range(28)
        ],
    },
    separators=(",", ":"),
).encode()


def groups(quick: bool) -> list[Group]:  # noqa: ARG001, FBT001 - same groups either way
    """Verify a small, a typical and a large (GitHub push-sized) payload."""
    return [
        _group("small event", _SMALL),
        _group("typical event", _TYPICAL),
        _group("large event", _LARGE),
    ]
