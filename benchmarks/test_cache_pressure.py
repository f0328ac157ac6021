"""benchmarks/cache_pressure.py runs and reports every case (a smoke test, no timing)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from benchmarks import cache_pressure

if TYPE_CHECKING:
    import pytest


def test_measure_reports_each_case_and_the_excess() -> None:
    """Every case is timed (positive) and the excess is derived from them."""
    result = cache_pressure.measure(rounds=1, number=2)
    assert set(result) == {"verify", "python", "both", "excess"}
    assert all(result[name] > 0 for name in ("verify", "python", "both"))
    expected = result["both"] - result["verify"] - result["python"]
    assert result["excess"] == expected


def test_main_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints one object with the four figures."""
    cache_pressure.main(["--rounds", "1", "--number", "1", "--json"])
    assert set(json.loads(capsys.readouterr().out)) == {"verify", "python", "both", "excess"}
