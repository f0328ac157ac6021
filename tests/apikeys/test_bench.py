"""The `apikeys` benchmark suite builds, smoke-checks and runs."""

from __future__ import annotations

from authcore._bench import apikeys as suite
from authcore._bench import run_group, suite_names


def test_suite_is_discovered() -> None:
    """`authcore bench` finds the apikeys suite."""
    assert "apikeys" in suite_names()
    assert suite.NAME == "apikeys"


def test_groups_run_and_agree() -> None:
    """Every case returns the same key id as the floor and can be timed."""
    groups = suite.groups(quick=True)
    assert [g.name for g in groups] == ["API key verify"]
    group = groups[0]
    assert group.floor in group.cases
    results = {name: case() for name, case in group.cases.items()}
    assert results["floor"] == results["KeyManager (memory)"]
    assert all(isinstance(value, str) and len(value) == 16 for value in results.values())
    measured = run_group(group, min_time=0.001, rounds=1)
    assert {m.name for m in measured.results} == set(group.cases)
