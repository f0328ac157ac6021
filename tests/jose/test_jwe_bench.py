"""The jwe benchmark suite builds and smoke-checks its groups."""

from __future__ import annotations

from authcore._bench import jwe as suite
from authcore._bench import load_suites, run_group


def test_bench_suite_builds_and_checks_every_case() -> None:
    """Each group decrypts with the floor, authcore and the installed peers."""
    groups = suite.groups(True)
    assert [g.name for g in groups] == [
        "JWE decrypt dir + A256GCM",
        "JWE decrypt dir + A256CBC-HS512",
        "JWE decrypt RSA-OAEP-256 + A256GCM",
        "JWE decrypt ECDH-ES+A256KW + A256GCM (P-256)",
    ]
    for group in groups:
        assert group.floor in group.cases
        assert "authcore jwe.decrypt" in group.cases
    for group in groups[:2]:
        result = run_group(group, min_time=0.001, rounds=1)
        assert {m.name for m in result.results} == set(group.cases)
    assert [s.NAME for s in load_suites(["jwe"])] == ["jwe"]
