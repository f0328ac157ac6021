"""Every Python example in README.md and docs/ runs as written."""

from __future__ import annotations

import json
import os
import pydoc
import re
import shutil
import subprocess
import textwrap
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests._docs_scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
_FENCE_RE = re.compile(r"^( *)```python\n(.*?)^\1```$", re.MULTILINE | re.DOTALL)
_DIRECTIVE_RE = re.compile(r"^(\s*)\.\. code-block:: python\s*$")


def markdown_blocks(text: str) -> list[str]:
    """The ```python fenced blocks of a Markdown text (also indented inside list items)."""
    return [textwrap.dedent(body) for _, body in _FENCE_RE.findall(text)]


def rst_blocks(text: str) -> list[str]:
    """The bodies of `.. code-block:: python` directives of a reST text."""
    lines = text.splitlines()
    blocks: list[str] = []
    i = 0
    while i < len(lines):
        match = _DIRECTIVE_RE.match(lines[i])
        i += 1
        if match is None:
            continue
        indent = len(match.group(1))
        while i < len(lines) and lines[i].strip().startswith(":"):
            i += 1  # directive options
        body: list[str] = []
        while i < len(lines) and (
            not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent
        ):
            body.append(lines[i])
            i += 1
        blocks.append(textwrap.dedent("\n".join(body)).strip("\n") + "\n")
    return blocks


def _documents() -> list[Path]:
    docs = sorted((ROOT / "docs").rglob("*.rst")) + sorted((ROOT / "docs").rglob("*.md"))
    return [ROOT / "README.md", *(p for p in docs if "_build" not in p.parts)]


def _blocks(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return markdown_blocks(text) if path.suffix == ".md" else rst_blocks(text)


@pytest.mark.parametrize("path", _documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_run(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each document's Python blocks run top to bottom in one namespace."""
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for number, block in enumerate(_blocks(path), start=1):
        code = compile(block, f"{path.name}[block {number}]", "exec")
        exec(code, namespace)  # noqa: S102 - executing our own documentation is the point


def test_readme_has_examples() -> None:
    """The README carries at least one executed example."""
    assert _blocks(ROOT / "README.md")


def test_rst_extraction_finds_indented_blocks() -> None:
    """The reST extractor returns directive bodies and skips options."""
    text = "Intro\n\n.. code-block:: python\n   :caption: x\n\n   a = 1\n\n   b = a + 1\n\nAfter\n"
    assert rst_blocks(text) == ["a = 1\n\nb = a + 1\n"]


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run executes exactly the command the README gives for the tests."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- test-command:start -->")[1].split("<!-- test-command:end -->")[0]
    command = re.search(r"```console\n\s*(.+?)\n", section)
    assert command is not None
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "test-command:start" in ci
    assert os.access(ROOT / ".ci" / "run", os.R_OK)


def _ci_function(name: str) -> str:
    """The text of one shell function of .ci/run (from `name() {` to its closing brace)."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    match = re.search(rf"^{name}\(\) {{\n.*?^}}\n", ci, re.MULTILINE | re.DOTALL)
    assert match is not None, name
    return match.group(0)


@pytest.mark.parametrize(("status", "expected"), [(0, 0), (1, 1), (5, 1)])
def test_ci_fails_when_pytest_collects_nothing(status: int, expected: int) -> None:
    """.ci/run's test wrapper fails on pytest's exit code 5 (no tests) as on any failure."""
    bash = shutil.which("bash")
    assert bash is not None
    script = f"set -euo pipefail\n{_ci_function('run_tests')}run_tests bash -c 'exit {status}'\n"
    result = subprocess.run(
        [bash, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == expected
    assert ("collected no tests" in result.stderr) == (status == 5)


def test_ci_runs_every_pytest_step_through_the_wrapper() -> None:
    """Each step of .ci/run that runs the tests goes through run_tests."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    steps = [
        line.strip() for line in ci.splitlines() if re.search(r"test_command\"|tox\[@\]", line)
    ]
    runs = [line for line in steps if not line.startswith(("tox=", "[", "step"))]
    assert any("test_command" in line for line in runs), steps  # the README's command
    assert sum("tox[@]" in line for line in runs) >= 3, steps  # tests, oldest, py3XX
    assert all(line.startswith("run_tests ") for line in runs), runs


def test_choosing_guide_is_current() -> None:
    """docs/guides/choosing.inc equals what docs/gen_choosing.py renders now."""
    assert load_script("gen_choosing").main(["--check"]) == 0


_ROLE_RE = re.compile(r":(?:class|func|meth|mod|attr|exc|data):`~?([\w.]+)`")


def test_choosing_guide_names_real_apis() -> None:
    """Every API a cell of the comparison names exists, and every method has a full row."""
    module = load_script("gen_choosing")
    text = module.render()
    targets = set(_ROLE_RE.findall(text))
    assert len(targets) > 20, targets
    for target in sorted(targets):
        assert pydoc.locate(target) is not None, target
    for criterion in module.COMPARISON:
        assert len(criterion.cells) == len(module.METHODS), criterion.name
        assert all(cell.verdict and cell.authcore for cell in criterion.cells), criterion.name
    for decision in module.DECISIONS:
        assert (ROOT / "docs" / "guides" / f"{decision.guide}.rst").is_file(), decision.guide
        assert decision.question in " ".join(text.split())


def test_choosing_flowchart_is_well_formed_svg() -> None:
    """The generated flowchart parses as XML and draws one box per question and answer."""
    text = load_script("gen_choosing").render()
    raw = text.split(".. raw:: html\n")[1].split("\n\n#.")[0]
    svg = ET.fromstring(  # noqa: S314 - our own generated SVG
        textwrap.dedent(raw).strip()
    )
    namespace = "{http://www.w3.org/2000/svg}"
    rects = svg.findall(f"{namespace}rect")
    decisions = load_script("gen_choosing").DECISIONS
    assert len(rects) == 2 * len(decisions) + 1
    assert len(svg.findall(f"{namespace}line")) == 2 * len(decisions)


def test_performance_page_tables_are_current() -> None:
    """docs/bench.inc equals what docs/gen_bench.py renders from the recorded run."""
    assert load_script("gen_bench").main(["--check"]) == 0


def test_performance_chart_draws_every_case() -> None:
    """The chart parses as SVG and has one bar per non-floor case of the recorded run."""
    module = load_script("gen_bench")
    raw = module.render().split(".. raw:: html\n")[1].split("\n\n")[0]
    svg = ET.fromstring(textwrap.dedent(raw).strip())  # noqa: S314 - our own generated SVG
    groups = json.loads(module.RESULTS.read_text(encoding="utf-8"))
    cases = sum(1 for g in groups for r in g["results"] if r["name"] != g["floor"])
    assert cases > 10
    assert len(svg.findall("{http://www.w3.org/2000/svg}rect")) == cases


def test_docs_builds_are_nitpicky() -> None:
    """CI and tox build the docs with -n (every reference resolves) and -W (no warning)."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    tox = (ROOT / "tox.ini").read_text(encoding="utf-8")
    tox_docs = tox.split("[testenv:docs]")[1].split("\n[")[0]
    builds = [line for line in ci.splitlines() if "-m sphinx" in line]
    builds += [line for line in tox_docs.splitlines() if "-m sphinx" in line]
    assert len(builds) == 2, builds
    for line in builds:
        assert " -n " in line, line
        assert " -W " in line, line


def test_generators_write_then_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The shared --check of docs/gen_*.py: 0 when current, 1 and a hint when stale or absent."""
    write_or_check = load_script("_generate").write_or_check
    out = tmp_path / "x.inc"
    assert write_or_check(out, "text", ["--check"], "gen_x.py") == 1  # absent
    assert "run python docs/gen_x.py" in capsys.readouterr().err
    assert write_or_check(out, "text", [], "gen_x.py") == 0
    assert out.read_text(encoding="utf-8") == "text"
    assert write_or_check(out, "text", ["--check"], "gen_x.py") == 0
    assert write_or_check(out, "other", ["--check"], "gen_x.py") == 1
    assert out.read_text(encoding="utf-8") == "text"  # a check never writes
