"""API keys: a checksummed, scanner-friendly format, peppered hashing and a key lifecycle.

Format (see :func:`generate`)::

    sk_live_7Qw2mX0aLpT4nB8c kP9x...(43 chars) 3fZ0aB
    prefix   key id (16)      secret (43)       CRC32 of key id + secret (6)

Everything after the prefix is base62.  The secret carries 256 bits from :mod:`secrets`;
the key id is public (lookup, display, logs); the checksum lets :func:`parse` refuse typos and
junk offline, before any store lookup, and lets secret scanners recognise real keys.

Storage (see :class:`KeyHasher`): only ``v1$<pepper id>$<HMAC-SHA256(pepper, secret)>`` is
stored; the pepper lives outside the database and can be rotated.  In files and environment
variables a pepper is written in one format, ``base64:...`` or ``hex:...``
(:func:`decode_pepper`), read the same way by the library and the ``authcore`` command.

Lifecycle (see :class:`KeyManager`): create, verify (constant-time; status is revealed only
after the secret matched; an unknown id and a wrong secret give the same error), scopes,
revoke, disable, rotate with a grace period, per-key rate limits, remaining-use credits and
batched usage counters.

Not checked here: where a key is presented (use the ``Authorization`` header over TLS), and
whether the owner of a key still exists in your system.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from authcore.apikeys._format import GeneratedKey, ParsedKey, generate, parse
from authcore.apikeys._hashing import HashCheck, KeyHasher, decode_pepper, encode_pepper
from authcore.apikeys._manager import IssuedKey, KeyManager
from authcore.apikeys._model import (
    KeyChange,
    KeyLookup,
    KeyRecord,
    KeyStatus,
    KeyStore,
    KeyWriter,
    Usage,
    UsageRecorder,
)

__all__ = [
    "GeneratedKey",
    "HashCheck",
    "IssuedKey",
    "KeyChange",
    "KeyHasher",
    "KeyLookup",
    "KeyManager",
    "KeyRecord",
    "KeyStatus",
    "KeyStore",
    "KeyWriter",
    "ParsedKey",
    "Usage",
    "UsageRecorder",
    "decode_pepper",
    "encode_pepper",
    "generate",
    "parse",
]
