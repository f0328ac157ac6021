"""Webhook verification from http.server and WSGI headers, secret hints, StripeVerifier."""

from __future__ import annotations

import concurrent.futures
import email.message
import http.client
import io
from typing import Any

import pytest

from authcore import webhooks
from authcore.errors import InvalidKeyError, InvalidSignature, MalformedHeader, Replayed
from authcore.stores.memory import MemoryOneTimeStore
from authcore.webhooks import github, stripe

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BODY = b'{"type":"ping"}'
NOW = 1_700_000_000
STRIPE_SECRET = "whsec_stripe_endpoint_secret_0123456789"


def _message(pairs: list[tuple[str, str]]) -> http.client.HTTPMessage:
    """Headers as http.server gives them in ``self.headers``."""
    raw = "".join(f"{name}: {value}\r\n" for name, value in pairs) + "\r\n"
    return http.client.parse_headers(io.BytesIO(raw.encode("latin-1")))


def _environ(headers: dict[str, str]) -> dict[str, Any]:
    """A WSGI environ carrying ``headers`` as a server would (PEP 3333)."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "wsgi.version": (1, 0),
        "wsgi.input": io.BytesIO(BODY),
        "CONTENT_TYPE": "application/json",
    }
    for name, value in headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def _signed() -> dict[str, str]:
    return webhooks.sign(BODY, SECRET, msg_id="msg_1", timestamp=NOW)


def test_http_server_headers_verify() -> None:
    """The http.server headers object (an email.message.Message) is accepted."""
    headers = _message(list(_signed().items()))
    assert isinstance(headers, email.message.Message)
    assert webhooks.verify(BODY, headers, SECRET, now=NOW).msg_id == "msg_1"
    verifier = webhooks.WebhookVerifier(SECRET)
    assert verifier.verify(BODY, headers, now=NOW).msg_id == "msg_1"


def test_http_server_repeated_header_is_refused() -> None:
    """A signature header sent twice in an http.server message is refused."""
    signed = _signed()
    pairs = [*signed.items(), ("Webhook-Signature", signed["webhook-signature"])]
    with pytest.raises(MalformedHeader, match="repeated"):
        webhooks.verify(BODY, _message(pairs), SECRET, now=NOW)


def test_wsgi_environ_verifies() -> None:
    """A WSGI environ with HTTP_WEBHOOK_ID style keys is accepted, by function and object."""
    environ = _environ(_signed())
    assert webhooks.verify(BODY, environ, SECRET, now=NOW).msg_id == "msg_1"
    verifier = webhooks.WebhookVerifier(SECRET)
    assert verifier.verify(BODY, environ, now=NOW).msg_id == "msg_1"


def test_wsgi_environ_joined_repeat_is_refused() -> None:
    """A repeat the WSGI server joined with a comma fails and is refused, never accepted."""
    signed = _signed()
    joined = {**signed, "webhook-timestamp": f"{NOW},{NOW}"}
    with pytest.raises(MalformedHeader):
        webhooks.verify(BODY, _environ(joined), SECRET, now=NOW)
    joined_id = {**signed, "webhook-id": "msg_1,msg_2"}
    with pytest.raises(InvalidSignature):
        webhooks.verify(BODY, _environ(joined_id), SECRET, now=NOW)


def test_wsgi_environ_and_plain_spelling_together_are_refused() -> None:
    """An environ holding a header both as HTTP_ key and as a plain name is refused."""
    environ = _environ(_signed())
    environ["webhook-id"] = "msg_1"
    with pytest.raises(MalformedHeader):
        webhooks.verify(BODY, environ, SECRET, now=NOW)


def test_environ_keys_without_wsgi_version_are_not_headers() -> None:
    """A plain mapping is not read as an environ: HTTP_ keys there are not the headers."""
    environ = _environ(_signed())
    del environ["wsgi.version"]
    with pytest.raises(MalformedHeader, match="missing"):
        webhooks.verify(BODY, environ, SECRET, now=NOW)


def test_stripe_and_github_accept_server_headers() -> None:
    """Stripe- and GitHub-style verification read http.server headers and WSGI environs."""
    value = stripe.sign(BODY, STRIPE_SECRET, timestamp=NOW)
    for headers in (_message([("Stripe-Signature", value)]), _environ({"Stripe-Signature": value})):
        assert stripe.verify(BODY, headers, STRIPE_SECRET, now=NOW).timestamp == NOW
    signature = github.sign(BODY, "gh-secret-value")
    for gh_headers in (
        _message([("X-Hub-Signature-256", signature)]),
        _environ({"X-Hub-Signature-256": signature}),
    ):
        github.verify(BODY, gh_headers, "gh-secret-value")


@pytest.mark.parametrize("secret", [SECRET + "\n", " " + SECRET, SECRET.encode() + b"\r\n"])
def test_standard_secret_whitespace_hint(secret: str | bytes) -> None:
    """A Standard Webhooks secret with surrounding whitespace is refused with a hint."""
    with pytest.raises(InvalidKeyError, match=r"surrounding whitespace.*strip\(\)"):
        webhooks.WebhookVerifier(secret)


@pytest.mark.parametrize("secret", [STRIPE_SECRET + "\n", "\t" + STRIPE_SECRET])
def test_stripe_secret_whitespace_hint(secret: str) -> None:
    """A Stripe or GitHub secret with surrounding whitespace is refused with a hint."""
    with pytest.raises(InvalidKeyError, match=r"surrounding whitespace.*strip\(\)"):
        stripe.StripeVerifier(secret)
    with pytest.raises(InvalidKeyError, match=r"surrounding whitespace.*strip\(\)"):
        github.verify(BODY, {"x-hub-signature-256": "sha256=00"}, secret)


def test_empty_secret_says_empty() -> None:
    """An empty secret is refused as empty, without the whitespace hint."""
    with pytest.raises(InvalidKeyError, match="must not be empty"):
        stripe.StripeVerifier("")


def test_stripe_verifier_matches_function() -> None:
    """StripeVerifier accepts what stripe.verify accepts and refuses what it refuses."""
    verifier = stripe.StripeVerifier([STRIPE_SECRET + "x", STRIPE_SECRET], tolerance=60)
    header = stripe.sign(BODY, STRIPE_SECRET, timestamp=NOW)
    result = verifier.verify(BODY, header, now=NOW + 30)
    expected = stripe.verify(BODY, header, [STRIPE_SECRET + "x", STRIPE_SECRET], now=NOW + 30)
    assert result == expected
    assert result.key_index == 1
    with pytest.raises(InvalidSignature):
        verifier.verify(BODY + b" ", header, now=NOW)
    assert "StripeVerifier(keys=2" in repr(verifier)
    assert STRIPE_SECRET not in repr(verifier)


def test_stripe_verifier_replay_cache() -> None:
    """With a replay cache, StripeVerifier accepts each event once."""
    verifier = stripe.StripeVerifier(STRIPE_SECRET, replay_cache=MemoryOneTimeStore())
    header = stripe.sign(BODY, STRIPE_SECRET, timestamp=NOW)
    verifier.verify(BODY, header, now=NOW)
    with pytest.raises(Replayed):
        verifier.verify(BODY, header, now=NOW)


def test_stripe_verifier_shared_across_threads() -> None:
    """One StripeVerifier verifies concurrently from many threads with the right answers."""
    verifier = stripe.StripeVerifier(STRIPE_SECRET)
    bodies = [b'{"n":%d}' % i for i in range(64)]
    headers = [stripe.sign(body, STRIPE_SECRET, timestamp=NOW) for body in bodies]

    def check(i: int) -> bytes:
        return verifier.verify(bodies[i], headers[i], now=NOW).payload

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(check, range(64))) == bodies
