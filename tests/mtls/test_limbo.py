"""x509-limbo conformance: every case, compared with the committed disagreement table."""

from __future__ import annotations

import pytest

from tests.conftest import vector_file
from tests.mtls._limbo import Case, disagreements, load_cases, run_authcore, run_raw
from tests.mtls.limbo_expected import DISAGREEMENTS, FIXED_BY_KEY_IDENTIFIERS

pytestmark = pytest.mark.vectors

_CRL_CASES = (
    "crl::revoked-certificate-with-crl",
    "crl::crlnumber-missing",
    "crl::certificate-not-on-crl",
    "crl::certificate-serial-on-crl-different-issuer",
    "crl::crlnumber-critical",
    "crl::issuer-missing-crlsign",
    "crl::issuer-no-keyusage-extension",
    "crl::issuer-valid-crlsign-and-keycertsign",
)

# A fixed sample across the suites, run one by one so a regression names its case.
_SAMPLE = (
    "rfc5280::serial::zero",
    "webpki::forbidden-p192-leaf",
    "webpki::forbidden-dsa-leaf",
    "webpki::forbidden-weak-rsa-in-leaf",
    "webpki::forbidden-rsa-not-divisible-by-8-in-root",
    "webpki::forbidden-rsa-key-not-divisible-by-8-in-leaf",
    "webpki::eku::ee-anyeku",
    "webpki::eku::ee-without-eku",
    "rfc5280::pc::ica-noncritical-pc",
    "rfc5280::nc::permitted-dns-match-noncritical",
    "rfc5280::validity::notafter-fractional",
    "rfc5280::nc::nc-permits-email-exact",
    "rfc5280::nc::nc-permits-email-literal-asterisk-rejects-user",
    "bettertls::pathbuilding::tc61",
    "online::fastly.com",
)


@pytest.fixture(scope="session")
def limbo() -> dict[str, Case]:
    """The limbo cases by id, parsed once per session."""
    return {case["id"]: case for case in load_cases(vector_file("limbo.json"))}


def _agrees(case: Case) -> None:
    outcome = run_authcore(case)
    expected = case["expected_result"] == "SUCCESS"
    if case["id"] in DISAGREEMENTS:
        recorded, reason = DISAGREEMENTS[case["id"]]
        assert ("accepted" if outcome.accepted else f"rejected:{outcome.code}") == recorded, reason
    else:
        assert outcome.accepted is expected, f"{case['id']}: {outcome.code}"


def test_limbo_matches_the_disagreement_table(limbo: dict[str, Case]) -> None:
    """All 9,780 cases agree with limbo except exactly the committed, explained table."""
    found = disagreements(list(limbo.values()))
    assert found == {k: v[0] for k, v in DISAGREEMENTS.items()}


def test_limbo_never_accepts_what_cryptography_rejects(limbo: dict[str, Case]) -> None:
    """Each wrong acceptance is shared by raw cryptography, and there are strictly fewer."""
    failures = [c for c in limbo.values() if c["expected_result"] == "FAILURE"]
    raw_accepted = {c["id"] for c in failures if run_raw(c)}
    ours = {k for k, (outcome, _) in DISAGREEMENTS.items() if outcome == "accepted"}
    assert ours <= raw_accepted
    assert len(ours) < len(raw_accepted)
    assert len(raw_accepted) - len(ours) >= 15


def test_limbo_require_key_identifiers_only_removes_wrong_acceptances(
    limbo: dict[str, Case],
) -> None:
    """require_key_identifiers=True fixes exactly the listed AKI/SKI cases, breaking none."""
    strict = disagreements(list(limbo.values()), strict=True)
    default = {k: v[0] for k, v in DISAGREEMENTS.items()}
    assert set(FIXED_BY_KEY_IDENTIFIERS) <= {k for k, v in default.items() if v == "accepted"}
    assert strict == {k: v for k, v in default.items() if k not in FIXED_BY_KEY_IDENTIFIERS}
    for case_id, outcome in FIXED_BY_KEY_IDENTIFIERS.items():
        found = run_authcore(limbo[case_id], strict=True)
        assert f"rejected:{found.code}" == outcome


@pytest.mark.parametrize("case_id", _CRL_CASES)
def test_limbo_crl_case(limbo: dict[str, Case], case_id: str) -> None:
    """Every crl:: case gets limbo's expected result through CRLChecker."""
    assert case_id not in DISAGREEMENTS
    _agrees(limbo[case_id])


@pytest.mark.parametrize("case_id", _SAMPLE)
def test_limbo_sample_case(limbo: dict[str, Case], case_id: str) -> None:
    """Sampled cases (weak keys, EKU, serials, validity edges, path building) agree."""
    _agrees(limbo[case_id])


def test_every_crl_case_is_listed(limbo: dict[str, Case]) -> None:
    """The parametrized crl:: list covers every crl:: case in the file."""
    assert {i for i in limbo if i.startswith("crl::")} == set(_CRL_CASES)
