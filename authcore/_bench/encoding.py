"""Strict base64url + JSON decoding against the permissive standard-library floor."""

from __future__ import annotations

import base64
import json

from authcore._bench import Group
from authcore._encoding import b64url_decode, b64url_encode, json_dumps, json_loads

NAME = "encoding"

_CLAIMS = {
    "iss": "https://issuer.example",
    "sub": "user-1234",
    "aud": "bench-audience",
    "exp": 2_000_000_000,
    "iat": 1_700_000_000,
    "scope": "read write",
}


def groups(quick: bool) -> list[Group]:  # noqa: ARG001, FBT001 - same groups either way
    """Decode one JWT-sized payload segment."""
    segment = b64url_encode(json_dumps(_CLAIMS))

    def floor() -> object:
        return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))

    def strict() -> object:
        return json_loads(b64url_decode(segment))

    if strict() != floor():  # pragma: no cover - smoke check
        raise AssertionError("strict decoding disagrees with the standard library")
    return [
        Group(
            name="base64url + JSON decode (payload segment)",
            floor="stdlib",
            cases={"stdlib": floor, "authcore strict": strict},
            note="base64.urlsafe_b64decode + json.loads, no checks",
        )
    ]
