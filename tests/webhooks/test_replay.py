"""Webhook replay protection over authcore.onetime.OneTimeStore."""

from __future__ import annotations

import pytest

from authcore.errors import ConfigurationError
from authcore.webhooks import WebhookVerifier, stripe, verify

SECRET = "whsec_" + "A" * 32


def test_bad_replay_cache_arguments_are_configuration_errors() -> None:
    """An object that is not a OneTimeStore is refused at setup, naming the option."""
    with pytest.raises(ConfigurationError, match="replay_cache"):
        WebhookVerifier(SECRET, replay_cache=object())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="replay_cache"):
        verify(b"", {}, SECRET, replay_cache=object())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="replay_cache"):
        stripe.verify(b"", "t=1,v1=a", "s", replay_cache=object())  # type: ignore[arg-type]
