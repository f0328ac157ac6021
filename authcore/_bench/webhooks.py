"""Standard Webhooks ``v1`` verification against the raw HMAC floor and ``standardwebhooks``.

The floor is only the cryptography a receiver cannot skip: ``hmac.new`` over
``id.timestamp.payload``, base64 of the MAC, and ``hmac.compare_digest`` with the header's
signature, with no header parsing, timestamp or tolerance check.  authcore does all of those
(plus reading the wall clock) and still has to stay close to it: see docs/guides/webhooks.rst.

Each delivery is signed at build time with the current time, so the default ``now`` (the
wall clock) is what is measured, as in production.  Three payload sizes: a small event, a
typical ~1 KiB one and a ~16 KiB one (the size of a GitHub push event).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import json
from typing import Any

from authcore._bench import Group
from authcore.clock import utc_now
from authcore.webhooks import WebhookVerifier, sign, verify

NAME = "webhooks"

_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 - the public spec vector
_MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
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
    signed = f"{_MSG_ID}.{timestamp}.".encode() + payload
    key = base64.b64decode(_SECRET.removeprefix("whsec_"))
    provided = headers["webhook-signature"].split(",", 1)[1].encode()

    def floor() -> object:
        mac = hmac.new(key, signed, hashlib.sha256).digest()
        return hmac.compare_digest(base64.b64encode(mac), provided)

    verifier = WebhookVerifier(_SECRET)

    def authcore_verifier() -> object:
        return verifier.verify(payload, headers)

    def authcore_verify() -> object:
        return verify(payload, headers, _SECRET)

    cases: dict[str, Any] = {
        "raw HMAC floor": floor,
        "authcore WebhookVerifier": authcore_verifier,
        "authcore verify()": authcore_verify,
    }
    if floor() is not True:  # pragma: no cover - smoke check
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
        floor="raw HMAC floor",
        cases=cases,
        note="hmac.new + base64 + compare_digest over id.timestamp.payload, no header checks",
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
