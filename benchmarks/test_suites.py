"""pytest-benchmark entry points for every `authcore bench` suite.

The callables are the ones `authcore bench` times (authcore/_bench/*.py), so the two never
measure different things.  In the normal test run (``--benchmark-disable``) each callable runs
once, as a smoke test; ``pytest benchmarks --benchmark-enable`` times them and
``--benchmark-compare`` tracks trends.  No test asserts a timing.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any

import pytest

from authcore._bench import Group, load_suites, suite_names

if TYPE_CHECKING:
    from collections.abc import Callable


@functools.cache
def _groups(suite: str) -> tuple[Group, ...]:
    (module,) = load_suites([suite])
    return tuple(module.groups(True))


# Groups built for a test are reused for at most a minute: some sign their inputs with the time
# they are built (webhook deliveries carry a timestamp checked against a 5-minute tolerance), and
# a long test run reaches these tests long after collection built the cached groups above.
_FRESH_FOR = 60.0
_fresh: dict[str, tuple[float, tuple[Group, ...]]] = {}


def _fresh_groups(suite: str) -> tuple[Group, ...]:
    built = _fresh.get(suite)
    if built is None or time.monotonic() - built[0] > _FRESH_FOR:
        (module,) = load_suites([suite])
        built = (time.monotonic(), tuple(module.groups(True)))
        _fresh[suite] = built
    return built[1]


def _cases() -> list[tuple[str, str, str]]:
    return [
        (suite, group.name, case)
        for suite in suite_names()
        for group in _groups(suite)
        for case in group.cases
    ]


@pytest.mark.parametrize(("suite", "group", "case"), _cases())
def test_bench(benchmark: Any, suite: str, group: str, case: str) -> None:
    """Time one case of one group (runs once when benchmarks are disabled)."""
    chosen = next(g for g in _fresh_groups(suite) if g.name == group)
    fn: Callable[[], object] = chosen.cases[case]
    benchmark.group = f"{suite}: {group}"
    benchmark(fn)
