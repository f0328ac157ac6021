"""Standard Webhooks: vectors, header handling, timestamps, secrets, rotation, replay."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import importlib
import json
import threading
from typing import TYPE_CHECKING, Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from authcore import webhooks
from authcore.clock import utc_now
from authcore.errors import (
    AuthcoreError,
    ConfigurationError,
    InvalidKeyError,
    InvalidSignature,
    MalformedHeader,
    Replayed,
    StaleTimestamp,
    VerificationError,
)
from authcore.http import Headers
from authcore.stores.memory import MemoryOneTimeStore
from authcore.stores.sqlite import SQLiteOneTimeStore
from authcore.webhooks import (
    VerifiedWebhook,
    WebhookVerifier,
    generate_secret,
    generate_signing_key,
    public_key,
    sign,
    verify,
)
from authcore.webhooks._keys import prepare

if TYPE_CHECKING:
    from collections.abc import Callable

# The official vector (Standard Webhooks specification and every reference library).
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
PAYLOAD = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
BAD_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="
# The reference Go library's v1a vector (webhook_asymmetric_test.go, TestAsymmetricWebhookSign).
SIGNING_KEY = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk="
V1A_SIGNATURE = (
    "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag=="
)


def _headers(signature: str = SIGNATURE, **extra: str) -> dict[str, str]:
    return {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(TIMESTAMP),
        "webhook-signature": signature,
        **extra,
    }


def _verify(headers: Any, secrets: Any = SECRET, **kwargs: Any) -> VerifiedWebhook:
    kwargs.setdefault("now", TIMESTAMP)
    return verify(PAYLOAD, headers, secrets, **kwargs)


# ----------------------------------------------------------------------------- vectors


def test_official_vector_verifies() -> None:
    """The specification's v1 vector verifies and reports what matched."""
    result = _verify(_headers())
    assert result.msg_id == MSG_ID
    assert result.timestamp == TIMESTAMP
    assert result.payload == PAYLOAD
    assert result.version == "v1"
    assert result.key_index == 0
    assert result.sent_at == dt.datetime(2021, 2, 25, 15, 2, 10, tzinfo=dt.timezone.utc)
    assert result.json() == {"test": 2432232314}


def test_official_vector_signs() -> None:
    """sign() reproduces the specification's headers exactly."""
    assert sign(PAYLOAD, SECRET, msg_id=MSG_ID, timestamp=TIMESTAMP) == _headers()


def test_official_vector_with_j1oa_ending_fails() -> None:
    """The same signature ending in J1OA= is refused."""
    with pytest.raises(InvalidSignature):
        _verify(_headers(BAD_SIGNATURE))


def test_v1a_reference_vector_signs_and_verifies() -> None:
    """The reference Ed25519 vector signs identically and verifies with the whpk_ key."""
    headers = sign(PAYLOAD, SIGNING_KEY, msg_id=MSG_ID, timestamp=TIMESTAMP)
    assert headers["webhook-signature"] == V1A_SIGNATURE
    result = _verify(headers, public_key(SIGNING_KEY))
    assert result.version == "v1a"


def test_matches_the_raw_hmac_definition() -> None:
    """v1 is base64 HMAC-SHA256 over id.timestamp.payload keyed with the decoded secret."""
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    mac = hmac.new(key, f"{MSG_ID}.{TIMESTAMP}.".encode() + PAYLOAD, hashlib.sha256).digest()
    assert "v1," + base64.b64encode(mac).decode() == SIGNATURE


def test_interoperates_with_the_standardwebhooks_package() -> None:
    """Signatures made by the reference Python package verify here, and ours verify there."""
    import standardwebhooks  # noqa: PLC0415 - the `bench` extra's peer, needed here only

    peer = standardwebhooks.Webhook(SECRET)
    when = dt.datetime.fromtimestamp(TIMESTAMP, dt.timezone.utc)
    theirs = peer.sign(MSG_ID, when, PAYLOAD.decode())
    assert _verify(_headers(theirs)).version == "v1"
    assert theirs == SIGNATURE
    ours = sign(PAYLOAD, SECRET, msg_id=MSG_ID, timestamp=int(utc_now().timestamp()))
    assert peer.verify(PAYLOAD, ours) == {"test": 2432232314}


# ----------------------------------------------------------------------------- signatures


def test_any_valid_signature_in_the_list_passes() -> None:
    """Several space-separated signatures: one valid entry is enough, unknown versions skipped."""
    header = f"v1,{'A' * 43}= v2,whatever {BAD_SIGNATURE} {SIGNATURE}"
    assert _verify(_headers(header)).version == "v1"


def test_rotation_reports_which_secret_matched() -> None:
    """With several secrets, the index of the one that verified is returned."""
    old = generate_secret()
    assert _verify(_headers(), [old, SECRET]).key_index == 1
    assert _verify(_headers(), (SECRET, old)).key_index == 0


def test_sign_with_several_secrets_sends_several_signatures() -> None:
    """Signing during a rotation emits one signature per secret, each verifiable alone."""
    new = generate_secret()
    headers = sign(PAYLOAD, [SECRET, new, SIGNING_KEY], msg_id=MSG_ID, timestamp=TIMESTAMP)
    assert len(headers["webhook-signature"].split(" ")) == 3
    for secret in (SECRET, new, public_key(SIGNING_KEY)):
        assert _verify(headers, secret).payload == PAYLOAD


def test_wrong_secret_fails() -> None:
    """A valid-looking signature under another secret is refused."""
    with pytest.raises(InvalidSignature):
        _verify(_headers(), generate_secret())


def test_no_usable_signature_version_fails_with_reason() -> None:
    """A header with only unknown versions is InvalidSignature naming the cause."""
    with pytest.raises(InvalidSignature, match="no v1 or v1a"):
        _verify(_headers("v2,abc v3,def"))


def test_v1a_signature_does_not_verify_with_hmac_secret() -> None:
    """Symmetric secrets verify only v1, public keys only v1a."""
    headers = sign(PAYLOAD, SIGNING_KEY, msg_id=MSG_ID, timestamp=TIMESTAMP)
    with pytest.raises(InvalidSignature):
        _verify(headers, SECRET)
    with pytest.raises(InvalidSignature):
        _verify(_headers(), public_key(SIGNING_KEY))


def test_v1a_signature_from_another_key_fails() -> None:
    """A well-formed Ed25519 signature made with another key is refused."""
    other = generate_signing_key()
    headers = sign(PAYLOAD, other, msg_id=MSG_ID, timestamp=TIMESTAMP)
    with pytest.raises(InvalidSignature, match="no signature matched"):
        _verify(headers, public_key(SIGNING_KEY))


def test_non_canonical_base64_signature_is_refused() -> None:
    """Changing only the unused low bits of the last base64 character does not pass."""
    # "E" = 000100, "F" = 000101: the last two bits are padding bits for 32 bytes.
    variant = SIGNATURE[:-2] + "F="
    assert base64.b64decode(variant[3:]) == base64.b64decode(SIGNATURE[3:])
    with pytest.raises(InvalidSignature):
        _verify(_headers(variant))


def test_non_canonical_v1a_signature_is_refused() -> None:
    """A v1a signature that is not canonical base64 (or truncated) does not pass."""
    pub = public_key(SIGNING_KEY)
    truncated = V1A_SIGNATURE[:-4]
    for bad in (truncated, V1A_SIGNATURE[:-3] + "h==", V1A_SIGNATURE.replace("/", "_")):
        with pytest.raises(InvalidSignature):
            _verify(_headers(bad), pub)


def test_entry_without_version_is_malformed() -> None:
    """An entry that is not 'version,signature' is a malformed header."""
    with pytest.raises(MalformedHeader):
        _verify(_headers("g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="))


def test_too_many_signatures_is_malformed() -> None:
    """More than MAX_SIGNATURES entries are refused before any work."""
    header = " ".join([BAD_SIGNATURE] * (webhooks.MAX_SIGNATURES + 1))
    with pytest.raises(MalformedHeader, match="more than"):
        _verify(_headers(header))


def test_oversized_signature_header_is_malformed() -> None:
    """A signature header longer than the cap is refused."""
    with pytest.raises(MalformedHeader, match="too long"):
        _verify(_headers("v1," + "A" * 5000 + " " + SIGNATURE))
    with pytest.raises(MalformedHeader, match="too long"):
        _verify(_headers("v1," + "A" * 5000))


# ----------------------------------------------------------------------------- headers


@pytest.mark.parametrize(
    "make",
    [
        lambda h: {k.upper(): v for k, v in h.items()},
        lambda h: {k.title(): v for k, v in h.items()},
        Headers,
        lambda h: list(h.items()),
        lambda h: [("User-Agent", "Svix-Webhooks/1.0"), *h.items()],
        lambda h: [(k.encode(), v.encode()) for k, v in h.items()],
        lambda h: {"Content-Type": "application/json", **h},
    ],
    ids=["upper", "title", "Headers", "pairs", "pairs-extra", "bytes-pairs", "extra"],
)
def test_headers_are_read_case_insensitively(make: Callable[[dict[str, str]], Any]) -> None:
    """Any mapping, authcore Headers, or (name, value) pairs work in any letter case."""
    assert _verify(make(_headers())).msg_id == MSG_ID


def test_repeated_signature_header_in_pairs_is_refused() -> None:
    """A signature header sent twice is refused rather than guessed."""
    pairs = [*_headers().items(), ("Webhook-Signature", SIGNATURE)]
    with pytest.raises(MalformedHeader, match="repeated"):
        _verify(pairs)
    with pytest.raises(MalformedHeader, match="repeated"):
        _verify(Headers(pairs))


def test_two_spellings_in_a_dict_are_refused() -> None:
    """A plain dict holding the same header in two letter cases is refused."""
    headers = _headers()
    headers["Webhook-Signature"] = BAD_SIGNATURE
    with pytest.raises(MalformedHeader, match="repeated"):
        _verify(headers)


def test_one_verifier_tells_name_sets_apart() -> None:
    """A reused verifier refuses a second spelling even after accepting the same names once."""
    verifier = WebhookVerifier(SECRET)
    assert verifier.verify(PAYLOAD, _headers(), now=TIMESTAMP).msg_id == MSG_ID
    doubled = _headers()
    doubled["Webhook-Signature"] = BAD_SIGNATURE
    for _ in range(2):
        with pytest.raises(MalformedHeader, match="repeated"):
            verifier.verify(PAYLOAD, doubled, now=TIMESTAMP)
    assert verifier.verify(PAYLOAD, _headers(), now=TIMESTAMP).msg_id == MSG_ID


def test_verifier_memory_of_name_sets_is_bounded() -> None:
    """Peers choosing ever new header names cannot grow a verifier without bound."""
    verifier = WebhookVerifier(SECRET)
    for n in range(600):
        assert verifier.verify(PAYLOAD, _headers(**{f"x-{n}": "1"}), now=TIMESTAMP).key_index == 0
    assert len(verifier._exact) <= 256


def test_other_webhook_prefixed_headers_are_fine() -> None:
    """Extra webhook-* fields in a dict do not confuse the lookup."""
    assert _verify(_headers(**{"webhook-foo": "1", "Webhook-Bar": "2"})).msg_id == MSG_ID


def test_dict_values_must_be_text() -> None:
    """A dict value that is not text is refused, bytes values are decoded like pairs."""
    with pytest.raises(MalformedHeader, match="not text"):
        _verify({**_headers(), "webhook-id": 5})
    assert _verify({**_headers(), "webhook-id": MSG_ID.encode()}).msg_id == MSG_ID
    assert _verify({k.encode(): v for k, v in _headers().items()}).msg_id == MSG_ID
    with pytest.raises(MalformedHeader, match="repeated"):
        _verify({b"webhook-id": MSG_ID, **_headers()})


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_malformed(name: str) -> None:
    """Each of the three headers is required."""
    headers = _headers()
    del headers[name]
    with pytest.raises(MalformedHeader, match=name):
        _verify(headers)


@pytest.mark.parametrize(
    "msg_id", ["", "a.b", "msg id", "msg\u00e9", "x" * 257, "msg_\x7f"], ids=repr
)
def test_bad_message_id_is_malformed(msg_id: str) -> None:
    """The id must be 1-256 visible ASCII characters without '.'."""
    with pytest.raises(MalformedHeader, match="webhook-id"):
        _verify({**_headers(), "webhook-id": msg_id})


def test_non_text_header_value_is_malformed() -> None:
    """A header value that is not text is refused with a typed error."""
    with pytest.raises(MalformedHeader):
        _verify([*((k, v) for k, v in _headers().items() if k != "webhook-id"), ("webhook-id", 5)])


def test_dict_with_non_text_keys_is_a_configuration_error() -> None:
    """A dict whose keys are not all text cannot be headers."""
    with pytest.raises(ConfigurationError):
        _verify({1: "x", **_headers()})


def test_headers_of_the_wrong_type_are_a_configuration_error() -> None:
    """Passing something that is not headers is the caller's mistake."""
    for bad in (5, "webhook-id: x", [("only-name",)], [(1, "x")]):
        with pytest.raises(ConfigurationError):
            _verify(bad)


def test_svix_header_prefix() -> None:
    """Svix-branded headers (svix-id, ...) verify when asked for, and only then."""
    headers = sign(PAYLOAD, SECRET, msg_id=MSG_ID, timestamp=TIMESTAMP, header_prefix="svix-")
    assert sorted(headers) == ["svix-id", "svix-signature", "svix-timestamp"]
    assert headers["svix-signature"] == SIGNATURE
    assert _verify(headers, header_prefix="svix-").msg_id == MSG_ID
    verifier = WebhookVerifier(SECRET, header_prefix="svix-")
    title = {k.title(): v for k, v in headers.items()}
    assert verifier.verify(PAYLOAD, title, now=TIMESTAMP).msg_id == MSG_ID
    with pytest.raises(MalformedHeader, match="missing header webhook-id"):
        _verify(headers)
    with pytest.raises(MalformedHeader, match="svix-timestamp"):
        _verify({**headers, "svix-timestamp": "x"}, header_prefix="svix-")


@pytest.mark.parametrize("prefix", ["Svix-", "svix", "", "a--", 5, ["svix-"]], ids=repr)
def test_bad_header_prefix_is_a_configuration_error(prefix: object) -> None:
    """A prefix must be lower-case token characters ending in '-'."""
    with pytest.raises(ConfigurationError, match="header_prefix"):
        _verify(_headers(), header_prefix=prefix)
    with pytest.raises(ConfigurationError, match="header_prefix"):
        sign(PAYLOAD, SECRET, msg_id=MSG_ID, timestamp=TIMESTAMP, header_prefix=prefix)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    "text",
    [
        "+1614265330",
        "-1614265330",
        "1614265330.0",
        "1.61426533e9",
        " 1614265330",
        "1614265330 ",
        "1_614_265_330",
        "0x6037bdf2",
        "01614265330",
        "\u0661614265330",
        "",
        "1" * 17,
    ],
    ids=repr,
)
def test_non_canonical_timestamps_are_malformed(text: str) -> None:
    """Sign, point, exponent, spaces, underscores, hex, leading zeros, non-ASCII are refused."""
    with pytest.raises(MalformedHeader, match="webhook-timestamp"):
        _verify({**_headers(), "webhook-timestamp": text})


@given(st.text(max_size=20))
@settings(max_examples=300)
def test_any_timestamp_text_is_canonical_or_malformed(text: str) -> None:
    """Arbitrary timestamp text either is canonical decimal or raises a typed error."""
    canonical = text.isascii() and text.isdigit() and str(int(text)) == text and len(text) <= 16
    try:
        _verify({**_headers(), "webhook-timestamp": text})
    except MalformedHeader:
        assert not canonical
    except (StaleTimestamp, InvalidSignature):
        assert canonical


def test_tolerance_applies_in_both_directions() -> None:
    """A timestamp too old or too far ahead is StaleTimestamp; the edges pass."""
    for now in (TIMESTAMP - 300, TIMESTAMP + 300):
        assert _verify(_headers(), now=now).payload == PAYLOAD
    with pytest.raises(StaleTimestamp, match="old"):
        _verify(_headers(), now=TIMESTAMP + 301)
    with pytest.raises(StaleTimestamp, match="future"):
        _verify(_headers(), now=TIMESTAMP - 301)
    with pytest.raises(StaleTimestamp):
        _verify(_headers(), now=TIMESTAMP - 3600)


def test_tolerance_may_be_a_timedelta_or_zero() -> None:
    """Tolerance accepts seconds or a timedelta; zero means the exact second."""
    assert (
        _verify(_headers(), tolerance=dt.timedelta(hours=1), now=TIMESTAMP + 3600).payload
        == PAYLOAD
    )
    assert _verify(_headers(), tolerance=0).payload == PAYLOAD
    with pytest.raises(StaleTimestamp):
        _verify(_headers(), tolerance=0, now=TIMESTAMP + 1)


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "300", True, None])
def test_bad_tolerance_is_a_configuration_error(bad: object) -> None:
    """Negative, non-finite or non-numeric tolerances are refused."""
    with pytest.raises(ConfigurationError):
        _verify(_headers(), tolerance=bad)


def test_now_accepts_aware_datetimes_and_refuses_naive_ones() -> None:
    """Now may be an aware datetime or UNIX seconds; naive datetimes are refused."""
    aware = dt.datetime.fromtimestamp(TIMESTAMP, dt.timezone(dt.timedelta(hours=5)))
    assert _verify(_headers(), now=aware).payload == PAYLOAD
    assert _verify(_headers(), now=float(TIMESTAMP) + 0.5).payload == PAYLOAD
    for bad in (aware.replace(tzinfo=None), "now", float("nan"), True):
        with pytest.raises(ConfigurationError):
            _verify(_headers(), now=bad)


def test_default_now_is_the_clock() -> None:
    """Without now, a fresh signature verifies and the vector's old timestamp does not."""
    current = int(utc_now().timestamp())
    assert (
        verify(PAYLOAD, sign(PAYLOAD, SECRET, msg_id=MSG_ID, timestamp=current), SECRET).payload
        == PAYLOAD
    )
    with pytest.raises(StaleTimestamp):
        verify(PAYLOAD, _headers(), SECRET)


# ----------------------------------------------------------------------------- payloads


def test_payload_must_be_bytes() -> None:
    """Text payloads are refused: the signature covers the exact bytes received."""
    with pytest.raises(ConfigurationError, match="bytes"):
        verify(PAYLOAD.decode(), _headers(), SECRET, now=TIMESTAMP)  # type: ignore[arg-type]
    assert verify(bytearray(PAYLOAD), _headers(), SECRET, now=TIMESTAMP).payload == PAYLOAD
    assert verify(memoryview(PAYLOAD), _headers(), SECRET, now=TIMESTAMP).payload == PAYLOAD


def test_reserialized_json_fails() -> None:
    """Re-serializing the JSON body changes the bytes, so the signature no longer matches."""
    reserialized = json.dumps(json.loads(PAYLOAD)).encode()
    compact = json.dumps(json.loads(PAYLOAD), separators=(",", ":")).encode()
    assert reserialized == PAYLOAD  # Python happens to reproduce this one...
    with pytest.raises(InvalidSignature):  # ...but not the compact form others send
        verify(compact, _headers(), SECRET, now=TIMESTAMP)


def test_large_payloads_verify() -> None:
    """Bodies above the concatenation threshold verify too."""
    body = b"x" * 100_000
    headers = sign(body, SECRET, msg_id=MSG_ID, timestamp=TIMESTAMP)
    assert verify(body, headers, SECRET, now=TIMESTAMP).payload == body
    with pytest.raises(InvalidSignature):
        verify(body + b"y", headers, SECRET, now=TIMESTAMP)


@given(st.binary(max_size=300))
@settings(max_examples=100)
def test_sign_then_verify_round_trips(body: bytes) -> None:
    """Any body signed verifies, and any one-byte change does not."""
    headers = sign(body, SECRET, msg_id=MSG_ID, timestamp=TIMESTAMP)
    assert verify(body, headers, SECRET, now=TIMESTAMP).payload == body
    with pytest.raises(InvalidSignature):
        verify(body + b"\0", headers, SECRET, now=TIMESTAMP)


# ----------------------------------------------------------------------------- secrets


@pytest.mark.parametrize(
    ("secret", "error"),
    [
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", InvalidKeyError),
        ("whsec_not*base64", InvalidKeyError),
        ("whsec_" + base64.b64encode(b"k" * 23).decode(), InvalidKeyError),
        ("whsec_" + base64.b64encode(b"k" * 65).decode(), InvalidKeyError),
        ("whsk_" + base64.b64encode(b"k" * 31).decode(), InvalidKeyError),
        ("whpk_" + base64.b64encode(b"k" * 33).decode(), InvalidKeyError),
        ("whsec_" + SECRET[6:] + "\n", InvalidKeyError),
        (b"short", InvalidKeyError),
        (b"whsec_\xff", InvalidKeyError),
        (12345, ConfigurationError),
        ([], ConfigurationError),
    ],
    ids=repr,
)
def test_bad_secrets_are_configuration_errors(secret: object, error: type[Exception]) -> None:
    """Secrets without a prefix, not base64, or of the wrong size are refused at setup."""
    with pytest.raises(error):
        _verify(_headers(), secret)


def test_impossible_base64_length_is_refused() -> None:
    """A whsec_ body whose length cannot be base64 is an InvalidKeyError."""
    with pytest.raises(InvalidKeyError, match="base64"):
        _verify(_headers(), "whsec_" + "A" * 33)


def test_prepared_keys_hide_material_in_repr() -> None:
    """The parsed-key value never shows key bytes."""
    assert repr(prepare(SECRET)) == "PreparedKey(version='v1')"
    assert repr(prepare(SIGNING_KEY)) == "PreparedKey(version='v1a')"


def test_refusals_never_echo_secrets_or_signatures() -> None:
    """No refusal reason contains the secret, the expected MAC or the signature sent."""
    scenarios: list[dict[str, str]] = [
        _headers(BAD_SIGNATURE),
        _headers("v1a," + "A" * 86 + "=="),
        {**_headers(), "webhook-timestamp": "1"},
        {**_headers(), "webhook-id": "a.b"},
        _headers("garbage"),
    ]
    for headers in scenarios:
        with pytest.raises(VerificationError) as info:
            _verify(headers, [SECRET, public_key(SIGNING_KEY)])
        text = f"{info.value} {info.value.reason}"
        for needle in (SECRET[6:], SIGNATURE[3:], BAD_SIGNATURE[3:], SIGNING_KEY[5:]):
            assert needle not in text


def test_secret_errors_never_echo_the_secret() -> None:
    """The error message does not contain the secret."""
    secret = "whsec_" + base64.b64encode(b"k" * 20).decode()
    with pytest.raises(InvalidKeyError) as info:
        _verify(_headers(), secret)
    assert secret[6:] not in str(info.value)


def test_unpadded_whsec_and_raw_bytes_secrets_work() -> None:
    """A whsec_ without padding, its bytes spelling, and the raw key bytes are accepted."""
    raw = base64.b64decode(SECRET[6:])
    assert _verify(_headers(), raw).payload == PAYLOAD
    assert _verify(_headers(), SECRET.encode()).payload == PAYLOAD
    other = "whsec_" + base64.b64encode(raw + b"12").decode()
    assert other.endswith("=")
    headers = sign(PAYLOAD, other, msg_id=MSG_ID, timestamp=TIMESTAMP)
    assert _verify(headers, other.rstrip("=")).payload == PAYLOAD


def test_ed25519_key_objects_and_libsodium_layout() -> None:
    """Key objects work, and a 64-byte (seed || public) whsk_ is accepted when consistent."""
    key = Ed25519PrivateKey.generate()
    headers = sign(PAYLOAD, key, msg_id=MSG_ID, timestamp=TIMESTAMP)
    assert _verify(headers, key.public_key()).version == "v1a"
    assert _verify(headers, key).version == "v1a"
    seed = key.private_bytes_raw()
    pub = key.public_key().public_bytes_raw()
    sodium = "whsk_" + base64.b64encode(seed + pub).decode()
    assert (
        _verify(sign(PAYLOAD, sodium, msg_id=MSG_ID, timestamp=TIMESTAMP), key.public_key()).payload
        == PAYLOAD
    )
    mismatched = "whsk_" + base64.b64encode(seed + bytes(32)).decode()
    with pytest.raises(InvalidKeyError, match="does not match"):
        sign(PAYLOAD, mismatched, msg_id=MSG_ID, timestamp=TIMESTAMP)


def test_public_key_cannot_sign() -> None:
    """Signing with a whpk_ key is refused with a hint."""
    with pytest.raises(InvalidKeyError, match="whsk_"):
        sign(PAYLOAD, public_key(SIGNING_KEY), msg_id=MSG_ID, timestamp=TIMESTAMP)
    with pytest.raises(InvalidKeyError):
        public_key(SECRET)


def test_generated_secrets_have_the_documented_shape() -> None:
    """generate_secret and generate_signing_key produce prefixed base64 of the right size."""
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[6:])) == 32
    assert len(base64.b64decode(generate_secret(64)[6:])) == 64
    assert generate_secret() != generate_secret()
    key = generate_signing_key()
    assert key.startswith("whsk_")
    assert len(base64.b64decode(key[5:])) == 32
    assert public_key(key).startswith("whpk_")
    for bad in (23, 65, True, "32"):
        with pytest.raises(ConfigurationError):
            generate_secret(bad)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- sign arguments


def test_sign_refuses_bad_ids_and_timestamps() -> None:
    """sign() validates its inputs as the caller's mistakes."""
    for msg_id in ("a.b", "", 5):
        with pytest.raises(ConfigurationError):
            sign(PAYLOAD, SECRET, msg_id=msg_id, timestamp=TIMESTAMP)  # type: ignore[arg-type]
    before_1970 = dt.datetime(1969, 12, 31, 23, 59, 59, tzinfo=dt.timezone.utc)
    for timestamp in (-1, 10**16, float("nan"), "1", True, dt.datetime(2021, 1, 1), before_1970):  # noqa: DTZ001
        with pytest.raises(ConfigurationError):
            sign(PAYLOAD, SECRET, msg_id=MSG_ID, timestamp=timestamp)  # type: ignore[arg-type]


def test_sign_accepts_an_aware_datetime() -> None:
    """A datetime timestamp is signed as its whole UNIX seconds."""
    when = dt.datetime.fromtimestamp(TIMESTAMP + 0.9, dt.timezone.utc)
    assert sign(PAYLOAD, SECRET, msg_id=MSG_ID, timestamp=when) == _headers()


# ----------------------------------------------------------------------------- verifier object


def test_verifier_object_matches_the_function() -> None:
    """WebhookVerifier gives the same results as verify() and hides key material."""
    verifier = WebhookVerifier([SECRET, public_key(SIGNING_KEY)], tolerance=60)
    assert verifier.verify(PAYLOAD, _headers(), now=TIMESTAMP) == _verify(_headers())
    with pytest.raises(StaleTimestamp):
        verifier.verify(PAYLOAD, _headers(), now=TIMESTAMP + 61)
    text = repr(verifier)
    assert "v1_keys=1" in text
    assert "v1a_keys=1" in text
    assert SECRET[6:] not in text


def test_verifier_is_safe_to_share_between_threads() -> None:
    """Threads verifying good and bad deliveries on one verifier all get the right answer."""
    verifier = WebhookVerifier([generate_secret(), SECRET])
    errors: list[str] = []

    def work(good: bool) -> None:
        headers = _headers() if good else _headers(BAD_SIGNATURE)
        for _ in range(300):
            try:
                verifier.verify(PAYLOAD, headers, now=TIMESTAMP)
                if not good:
                    errors.append("bad delivery verified")
            except InvalidSignature:
                if good:
                    errors.append("good delivery refused")

    threads = [threading.Thread(target=work, args=(i % 2 == 0,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_verified_webhook_is_immutable_and_hides_payload_in_repr() -> None:
    """The result is a frozen value equal to one built normally."""
    result = _verify(_headers())
    with pytest.raises(AttributeError):
        result.msg_id = "other"  # type: ignore[misc]
    built = VerifiedWebhook(
        msg_id=MSG_ID, timestamp=TIMESTAMP, payload=PAYLOAD, version="v1", key_index=0
    )
    assert result == built
    assert hash(result) == hash(built)
    assert "2432232314" not in repr(result)


def test_unhashable_secret_sequences_still_work() -> None:
    """Secrets given as a list of bytearrays (unhashable) bypass the cache correctly."""
    raw = bytearray(base64.b64decode(SECRET[6:]))
    assert _verify(_headers(), [raw]).key_index == 0


# ----------------------------------------------------------------------------- replay


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_replay_cache_accepts_a_delivery_once(kind: str, tmp_path: Any) -> None:
    """The same message is Replayed while its first timestamp is fresh; then a retry passes."""
    cache: Any = (
        MemoryOneTimeStore() if kind == "memory" else SQLiteOneTimeStore(tmp_path / "replay.db")
    )
    assert _verify(_headers(), replay_cache=cache).payload == PAYLOAD
    with pytest.raises(Replayed):
        _verify(_headers(), replay_cache=cache, now=TIMESTAMP + 10)
    retry = sign(PAYLOAD, SECRET, msg_id=MSG_ID, timestamp=TIMESTAMP + 60)
    with pytest.raises(Replayed):
        _verify(retry, replay_cache=cache, now=TIMESTAMP + 60)
    late = sign(PAYLOAD, SECRET, msg_id=MSG_ID, timestamp=TIMESTAMP + 302)
    assert _verify(late, replay_cache=cache, now=TIMESTAMP + 302).payload == PAYLOAD


def test_invalid_deliveries_are_not_recorded() -> None:
    """A refused signature never reaches the replay cache."""
    cache = MemoryOneTimeStore()
    with pytest.raises(InvalidSignature):
        _verify(_headers(BAD_SIGNATURE), replay_cache=cache)
    assert len(cache) == 0
    assert _verify(_headers(), replay_cache=cache).payload == PAYLOAD


def test_replay_cache_works_with_v1a_and_datetime_now() -> None:
    """Ed25519 deliveries are recorded too, with now given as a datetime."""
    cache = MemoryOneTimeStore()
    headers = sign(PAYLOAD, SIGNING_KEY, msg_id=MSG_ID, timestamp=TIMESTAMP)
    now = dt.datetime.fromtimestamp(TIMESTAMP, dt.timezone.utc)
    verifier = WebhookVerifier(public_key(SIGNING_KEY), replay_cache=cache)
    assert verifier.verify(PAYLOAD, headers, now=now).payload == PAYLOAD
    with pytest.raises(Replayed):
        verifier.verify(PAYLOAD, headers, now=now)


# ----------------------------------------------------------------------------- robustness


_HEADER_TEXT = st.text(st.characters(codec="utf-8"), max_size=60) | st.sampled_from(
    [SIGNATURE, str(TIMESTAMP), MSG_ID, "v1,", "v1a,", " ", ",", "v1," + "A" * 44]
)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["webhook-id", "Webhook-Timestamp", "WEBHOOK-SIGNATURE", "x"]),
            _HEADER_TEXT,
        ),
        max_size=6,
    )
)
@settings(max_examples=400)
def test_garbage_headers_raise_only_typed_errors(pairs: list[tuple[str, str]]) -> None:
    """Arbitrary header values never raise anything but a VerificationError subclass."""
    try:
        _verify(pairs, [SECRET, public_key(SIGNING_KEY)])
    except VerificationError:
        pass


@given(st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=6))
@settings(max_examples=200)
def test_garbage_dicts_raise_only_authcore_errors(headers: dict[str, str]) -> None:
    """Arbitrary dicts of text give a typed error (or, impossibly, a verified message)."""
    try:
        _verify(headers)
    except AuthcoreError:
        pass


# ----------------------------------------------------------------------------- fast path


def _outcome(call: Callable[[], VerifiedWebhook]) -> object:
    try:
        return call()
    except AuthcoreError as exc:
        return (type(exc), str(exc))


OTHER_SECRET = "whsec_" + base64.b64encode(b"\x01" * 32).decode()
OTHER_SIGNATURE = sign(PAYLOAD, OTHER_SECRET, msg_id=MSG_ID, timestamp=TIMESTAMP)[
    "webhook-signature"
]


@pytest.mark.parametrize(
    "headers",
    [
        _headers(),
        _headers(BAD_SIGNATURE),
        _headers(f"{BAD_SIGNATURE} {SIGNATURE}"),
        _headers(f"{SIGNATURE} {BAD_SIGNATURE}"),
        _headers(OTHER_SIGNATURE),
        _headers(SIGNATURE + " "),
        _headers(SIGNATURE + "\udc80"),
        _headers("v1," + SIGNATURE[3:].removesuffix("=")),
        _headers(SIGNATURE, **{"Webhook-Signature": SIGNATURE}),
        {**_headers(), "webhook-timestamp": "01614265330"},
        {**_headers(), "webhook-timestamp": str(TIMESTAMP + 301)},
        {**_headers(), "webhook-id": "msg.1"},
    ],
    ids=repr,
)
@pytest.mark.parametrize("secrets", [SECRET, [OTHER_SECRET, SECRET], [SIGNING_KEY, SECRET]])
def test_dict_fast_path_decides_like_the_general_path(
    headers: dict[str, str], secrets: Any
) -> None:
    """A plain dict (fast path) gets the same result or error as the same pairs (general)."""
    verifier = WebhookVerifier(secrets)
    fast = _outcome(lambda: verifier.verify(PAYLOAD, headers, now=TIMESTAMP))
    general = _outcome(lambda: verifier.verify(PAYLOAD, list(headers.items()), now=TIMESTAMP))
    assert fast == general


def test_fast_path_rotation_reports_the_matching_key() -> None:
    """With a dict, the second of two secrets matching gives key_index 1."""
    verifier = WebhookVerifier([OTHER_SECRET, SECRET])
    assert verifier.verify(PAYLOAD, _headers(), now=TIMESTAMP).key_index == 1
    assert verifier.verify(PAYLOAD, _headers(OTHER_SIGNATURE), now=TIMESTAMP).key_index == 0


@pytest.mark.parametrize("secrets", [SECRET, [OTHER_SECRET, SECRET], [SIGNING_KEY, SECRET]])
@pytest.mark.parametrize("size", [0, 16384, 16385, 100_000])
def test_fast_path_bodies_on_both_sides_of_the_concatenation_limit(secrets: Any, size: int) -> None:
    """One secret or several, small or large body: the signed body verifies, one more byte fails."""
    body = b"x" * size
    headers = sign(body, SECRET, msg_id=MSG_ID, timestamp=TIMESTAMP)
    verifier = WebhookVerifier(secrets)
    result = verifier.verify(body, headers, now=TIMESTAMP)
    assert (result.payload, result.key_index) == (body, 0 if secrets == SECRET else 1)
    with pytest.raises(InvalidSignature):
        verifier.verify(body + b"y", headers, now=TIMESTAMP)


def test_module_verify_checks_every_argument_on_each_call() -> None:
    """verify() builds its verifier per call: no refused argument gets through on a repeat."""
    assert _verify(_headers(), tolerance=1).msg_id == MSG_ID
    with pytest.raises(ConfigurationError):
        _verify(_headers(), tolerance=True)
    assert _verify(_headers(), tolerance=300.0).msg_id == MSG_ID
    with pytest.raises(InvalidKeyError):
        _verify(_headers(), "whsec_short")
    with pytest.raises(ConfigurationError):
        _verify(_headers(), header_prefix="Webhook-")
    assert _verify(_headers(), header_prefix="webhook-").key_index == 0


def test_fast_path_result_sets_every_dataclass_field() -> None:
    """The fast path's result fills exactly VerifiedWebhook's fields, in order, and is frozen."""
    fast = WebhookVerifier(SECRET).verify(PAYLOAD, _headers(), now=TIMESTAMP)
    built = VerifiedWebhook(
        msg_id=MSG_ID, timestamp=TIMESTAMP, payload=PAYLOAD, version="v1", key_index=0
    )
    for f in dataclasses.fields(VerifiedWebhook):
        assert getattr(fast, f.name) == getattr(built, f.name)
    assert fast == built
    assert repr(fast) == repr(built)
    assert hash(fast) == hash(built)
    assert type(fast) is VerifiedWebhook
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.msg_id = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    "module",
    [
        "authcore.webhooks",
        "authcore.webhooks._common",
        "authcore.webhooks._keys",
        "authcore.webhooks._standard",
        "authcore.webhooks.github",
        "authcore.webhooks.stripe",
        "authcore.apikeys._hashing",
        "authcore.stores.sqlite",
    ],
)
def test_no_module_level_cache_holds_secrets_or_keys(module: str) -> None:
    """No function of these modules is a functools cache (it would keep secrets process-wide)."""
    namespace = vars(importlib.import_module(module))
    cached = [name for name, value in namespace.items() if hasattr(value, "cache_info")]
    assert cached == []


def test_sign_defaults_to_a_fresh_id_and_now() -> None:
    """sign() without msg_id or timestamp makes a random id and signs the current time."""
    first, second = sign(PAYLOAD, SECRET), sign(PAYLOAD, SECRET)
    assert first["webhook-id"] != second["webhook-id"]
    assert first["webhook-id"].startswith("msg_")
    assert abs(int(first["webhook-timestamp"]) - utc_now().timestamp()) < 60
    verified = verify(PAYLOAD, first, SECRET)
    assert verified.msg_id == first["webhook-id"]


@pytest.mark.parametrize(
    "now",
    [
        TIMESTAMP,
        float(TIMESTAMP),
        TIMESTAMP + 0.5,
        dt.datetime.fromtimestamp(TIMESTAMP, dt.timezone.utc),
    ],
    ids=["int", "float", "fraction", "datetime"],
)
def test_now_takes_any_instant_on_every_path(now: object) -> None:
    """Module verify and both verifier paths take the same now= values."""
    headers = _headers()
    assert verify(PAYLOAD, headers, SECRET, now=now).msg_id == MSG_ID  # type: ignore[arg-type]
    verifier = WebhookVerifier(SECRET)
    assert verifier.verify(PAYLOAD, headers, now=now).msg_id == MSG_ID  # type: ignore[arg-type]
    pairs = list(headers.items())
    assert verifier.verify(PAYLOAD, pairs, now=now).msg_id == MSG_ID  # type: ignore[arg-type]
    for bad in (True, "1614265330", float("nan"), dt.datetime(2021, 2, 25)):  # noqa: DTZ001
        with pytest.raises(ConfigurationError, match="now"):
            verifier.verify(PAYLOAD, headers, now=bad)  # type: ignore[arg-type]


def test_header_names_are_compared_in_ascii_only() -> None:
    """``webhooK-id`` spelled with U+212A (Kelvin sign) is not ``webhook-id``.

    ``str.lower()`` folds U+212A to ASCII ``k``; RFC 9110 field names are ASCII tokens
    compared case-insensitively in ASCII, so a proxy filtering ``webhook-*`` headers would
    not see these (found by fuzzing).  The plain spelling, in any ASCII case, still verifies.
    """
    secret = "whsec_" + base64.b64encode(b"s" * 32).decode()
    signed = webhooks.sign(b"{}", secret, msg_id="msg_1", timestamp=1_800_000_000)
    kelvin = {name.replace("k", "\u212a"): value for name, value in signed.items()}
    for headers in (kelvin, list(kelvin.items())):
        with pytest.raises(MalformedHeader, match="missing header webhook-id"):
            webhooks.verify(b"{}", headers, secret, now=1_800_000_000)
    upper = {name.upper(): value for name, value in signed.items()}
    for headers in (upper, list(upper.items())):
        assert webhooks.verify(b"{}", headers, secret, now=1_800_000_000).msg_id == "msg_1"
