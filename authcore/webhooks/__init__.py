"""Webhook signatures: Standard Webhooks (``v1`` HMAC, ``v1a`` Ed25519), Stripe-style, GitHub-style.

This package is the `Standard Webhooks <https://www.standardwebhooks.com>`_ scheme::

    headers = webhooks.sign(body, "whsec_...", msg_id="msg_1", timestamp=1700000000)
    verified = webhooks.verify(body, request_headers, "whsec_...")

:mod:`authcore.webhooks.stripe` and :mod:`authcore.webhooks.github` have the same two
functions for those providers' formats.  Every verifier takes the raw body bytes (never
re-serialized JSON), reads headers case-insensitively from any mapping, refuses repeated
signature headers, compares in constant time and returns a value or raises an
:class:`~authcore.errors.AuthcoreError`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from authcore.webhooks._common import HeadersInput, Payload, Tolerance
from authcore.webhooks._keys import (
    WebhookSecret,
    generate_secret,
    generate_signing_key,
    public_key,
)
from authcore.webhooks._standard import (
    DEFAULT_HEADER_PREFIX,
    HEADER_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    MAX_SIGNATURES,
    VerifiedWebhook,
    WebhookVerifier,
    sign,
    verify,
)

__all__ = [
    "DEFAULT_HEADER_PREFIX",
    "HEADER_ID",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "MAX_SIGNATURES",
    "HeadersInput",
    "Payload",
    "Tolerance",
    "VerifiedWebhook",
    "WebhookSecret",
    "WebhookVerifier",
    "generate_secret",
    "generate_signing_key",
    "public_key",
    "sign",
    "verify",
]
