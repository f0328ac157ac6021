"""Properties: the per-window verifier cache never changes a result."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from hypothesis import given, settings
from hypothesis import strategies as st

from authcore.errors import CertificateError
from authcore.mtls import TrustStore, verify_client
from tests.mtls._pki import UTC, Issued, make_ca, make_leaf

if TYPE_CHECKING:
    from cryptography import x509

START = dt.datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
_MIN = dt.timedelta(minutes=1)

_root = make_ca("Window Root", not_before=START - 100 * _MIN, not_after=START + 100 * _MIN)
_inter = make_ca(
    "Window Intermediate", issuer=_root, not_before=START - 50 * _MIN, not_after=START + 40 * _MIN
)
# One leaf becomes valid inside the 12:00-13:00 window, the other expires inside it.
_LEAVES = (
    make_leaf(_inter, not_before=START + 10 * _MIN, not_after=START + 30 * _MIN),
    make_leaf(_inter, not_before=START - 10 * _MIN, not_after=START + 30 * _MIN),
)
_CACHED = TrustStore([_root.cert], time_window=dt.timedelta(hours=1))
_EXACT = TrustStore([_root.cert], time_window=dt.timedelta(0))


def _outcome(trust: TrustStore, chain: list[x509.Certificate], now: dt.datetime) -> str:
    try:
        verify_client(chain, trust=trust, now=now)
    except CertificateError as exc:
        return exc.code
    return "ok"


_BOUNDARIES_MS = [m * 60 * 1000 for m in (-100, -50, 10, 30, 40, 100, 0, 60)]
_OFFSETS = st.one_of(
    st.integers(min_value=-120 * 60 * 1000, max_value=120 * 60 * 1000),
    st.builds(
        lambda b, d: b + d,
        st.sampled_from(_BOUNDARIES_MS),
        st.integers(min_value=-2000, max_value=2000),
    ),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_LEAVES), _OFFSETS), min_size=1, max_size=5))
def test_cached_window_equals_exact_time(calls: list[tuple[Issued, int]]) -> None:
    """For any sequence of calls, a 1-hour-window store answers as a verifier built at now."""
    for leaf, offset in calls:
        now = START + dt.timedelta(milliseconds=offset)
        chain = [leaf.cert, _inter.cert]
        assert _outcome(_CACHED, chain, now) == _outcome(_EXACT, chain, now)
