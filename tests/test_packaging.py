"""The sdist and wheel hold what they should, under a distribution name that is ours.

The distributions are built by the build backend itself (``setuptools.build_meta``, the hooks
``pip`` and ``build`` call), the wheel from the unpacked sdist, as ``python -m build`` does: a
file missing from the sdist then breaks the wheel build here rather than a packager's later.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.parser import HeaderParser
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import pytest

import authcore
from authcore.cli import build_parser

if TYPE_CHECKING:
    from email.message import Message

ROOT = Path(__file__).resolve().parents[1]
DIST_NAME = "authcore-py"
# `authcore` on the package index is an unrelated project: no document may tell users to
# install it, and no requirement may name it.
_BARE_INSTALL_RE = re.compile(r"pip install\s+['\"]?authcore(?![-_.\w])")
# The backend rewrites sys.argv while it runs: read the arguments first.
_HOOK = (
    "import pathlib, sys\n"
    "hook, out, result = sys.argv[1:4]\n"
    "from setuptools import build_meta\n"
    "pathlib.Path(result).write_text(getattr(build_meta, hook)(out))\n"
)


class Dists(NamedTuple):
    sdist: Path
    wheel: Path
    sdist_names: frozenset[str]  # member paths relative to the sdist's top folder
    wheel_names: frozenset[str]


def _build(hook: str, source: Path, out: Path) -> Path:
    """Run one PEP 517 hook of the backend in a fresh interpreter; return the built file."""
    result_file = out / f"{hook}.name"
    subprocess.run(
        [sys.executable, "-c", _HOOK, hook, str(out), str(result_file)],
        cwd=source,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out / result_file.read_text()


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    """The sdist built from the checkout and the wheel built from that sdist."""
    out = tmp_path_factory.mktemp("dist")
    sdist = _build("build_sdist", ROOT, out)
    unpacked = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(sdist) as tar:
        members = tar.getnames()
        if hasattr(tarfile, "data_filter"):
            tar.extractall(unpacked, filter="data")
        else:  # Python 3.10 before 3.10.12 has no filters; this is our own, fresh sdist
            tar.extractall(unpacked)  # noqa: S202
    top = sdist.name.removesuffix(".tar.gz")
    wheel = _build("build_wheel", unpacked / top, out)
    with zipfile.ZipFile(wheel) as zf:
        wheel_names = frozenset(zf.namelist())
    shutil.rmtree(unpacked)
    sdist_names = frozenset(
        name.removeprefix(f"{top}/") for name in members if name.startswith(f"{top}/")
    )
    return Dists(sdist=sdist, wheel=wheel, sdist_names=sdist_names, wheel_names=wheel_names)


def _sdist_text(dists: Dists, name: str) -> str:
    top = dists.sdist.name.removesuffix(".tar.gz")
    with tarfile.open(dists.sdist) as tar:
        member = tar.extractfile(f"{top}/{name}")
        assert member is not None
        return member.read().decode("utf-8")


def _wheel_metadata(dists: Dists, name: str) -> str:
    dist_info = f"{DIST_NAME.replace('-', '_')}-{authcore.__version__}.dist-info"
    with zipfile.ZipFile(dists.wheel) as zf:
        return zf.read(f"{dist_info}/{name}").decode("utf-8")


def _headers(text: str) -> Message:
    return HeaderParser().parsestr(text)


def test_distribution_name_is_ours(dists: Dists) -> None:
    """Both files are named authcore-py (the import name and command stay `authcore`)."""
    version = authcore.__version__
    assert dists.sdist.name == f"authcore_py-{version}.tar.gz"
    assert dists.wheel.name == f"authcore_py-{version}-py3-none-any.whl"
    assert _headers(_wheel_metadata(dists, "METADATA"))["Name"] == DIST_NAME
    assert _headers(_sdist_text(dists, "PKG-INFO"))["Name"] == DIST_NAME
    entry_points = _wheel_metadata(dists, "entry_points.txt")
    assert re.search(r"^authcore = authcore\.cli:main$", entry_points, re.MULTILINE)


def test_wheel_requires_only_the_two_runtime_dependencies(dists: Dists) -> None:
    """Run time needs cryptography and typing-extensions; no extra names the index's `authcore`."""
    requires = _headers(_wheel_metadata(dists, "METADATA")).get_all("Requires-Dist") or []
    runtime = sorted(r for r in requires if "extra ==" not in r)
    assert runtime == ["cryptography>=49", "typing-extensions>=4.6"]
    for requirement in requires:
        name = re.split(r"[\s\[<>=!~;(]", requirement, maxsplit=1)[0]
        assert re.sub(r"[-_.]+", "-", name).lower() != "authcore", requirement


def test_sdist_has_licence_tests_and_docs(dists: Dists) -> None:
    """The sdist carries LICENSE, tests with conftest.py, docs, benchmarks and no build debris."""
    names = dists.sdist_names
    for required in (
        "LICENSE",
        "README.md",
        "CHANGELOG.md",
        "pyproject.toml",
        "authcore/py.typed",
        "tests/conftest.py",
        "tests/test_packaging.py",
        "docs/conf.py",
        "docs/index.rst",
        "benchmarks/test_suites.py",
    ):
        assert required in names, required
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo"))]
    assert not [n for n in names if n.startswith(("docs/_build", ".venv", "dist/", "build/"))]


def test_sdist_has_every_tracked_file(dists: Dists) -> None:
    """Every file under version control (but .gitignore) is in the sdist."""
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: no list of tracked files to compare with")
    listed = subprocess.run(
        [git, "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True, timeout=60
    ).stdout.decode("utf-8")
    tracked = {name for name in listed.split("\0") if name} - {".gitignore"}
    assert sorted(tracked - dists.sdist_names) == []


def test_licence_is_the_full_apache_text(dists: Dists) -> None:
    """LICENSE is the whole Apache-2.0 text, in the sdist and the wheel, and declared as such."""
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    for clause in (
        "Apache License",
        "Version 2.0, January 2004",
        "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION",
        "9. Accepting Warranty or Additional Liability.",
        "END OF TERMS AND CONDITIONS",
    ):
        assert clause in text, clause
    assert _sdist_text(dists, "LICENSE") == text
    assert _wheel_metadata(dists, "licenses/LICENSE") == text
    metadata = _headers(_wheel_metadata(dists, "METADATA"))
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["License-File"] == "LICENSE"


def test_wheel_holds_the_package_only(dists: Dists) -> None:
    """The wheel has every module of authcore (and py.typed), and no tests, docs or benchmarks."""
    top_levels = {name.split("/", 1)[0] for name in dists.wheel_names}
    dist_info = f"authcore_py-{authcore.__version__}.dist-info"
    assert top_levels == {"authcore", dist_info}
    package = ROOT / "authcore"
    modules = {
        path.relative_to(ROOT).as_posix()
        for path in package.rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert modules
    assert sorted(modules - dists.wheel_names) == []
    assert "authcore/py.typed" in dists.wheel_names


# Pages still to be fixed by their owners (issue 11 item 8); an entry goes when its page is.
_KNOWN_OFFENDERS: frozenset[str] = frozenset()


def test_no_document_installs_the_index_authcore() -> None:
    """README and docs never say `pip install authcore`: that name is someone else's project."""
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.*"))]
    offenders = {
        path.relative_to(ROOT).as_posix(): match.group(0)
        for path in documents
        if path.suffix in {".md", ".rst"} and "_build" not in path.parts
        for match in _BARE_INSTALL_RE.finditer(path.read_text(encoding="utf-8"))
    }
    assert set(offenders) <= _KNOWN_OFFENDERS, offenders
    assert _BARE_INSTALL_RE.search("pip install 'authcore[bench]'")
    assert not _BARE_INSTALL_RE.search("pip install authcore-py")


# Features that do not exist yet, by the module that will hold each.  Where a module is
# absent, the texts that advertise the package (its summary and keywords, the package
# docstring, the command's description, the docs' front page and the README's opening) must
# not name the feature except in a sentence saying it is not there yet, and no document may
# name the module.
_PLANNED = {
    "authcore.oauth": re.compile(r"\boauth", re.IGNORECASE),
    "authcore.authn": re.compile(r"\bauthn\b", re.IGNORECASE),
    "authcore.stores.redis": re.compile(r"\bredis\b", re.IGNORECASE),
    "authcore.stores.postgres": re.compile(r"\bpostgres", re.IGNORECASE),
}


def _missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except ModuleNotFoundError:  # a parent package is missing
        return True


def _claims(text: str) -> list[str]:
    """The sentences of ``text`` that are not disclaimers ("... not implemented yet")."""
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))
    return [s for s in sentences if not re.search(r"\bnot\b.*\byet\b", s)]


def test_advertising_names_only_what_exists(dists: Dists) -> None:
    """Summary, keywords, docstrings, docs front page and README opening claim no missing module."""
    metadata = _headers(_wheel_metadata(dists, "METADATA"))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    texts = {
        "Summary": metadata["Summary"],
        "Keywords": metadata["Keywords"],
        "authcore.__doc__": authcore.__doc__ or "",
        "authcore --help": build_parser().description or "",
        "docs/index.rst": (ROOT / "docs" / "index.rst").read_text(encoding="utf-8"),
        "README opening": readme.split("\n## ", 1)[0],
    }
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.*"))]
    for module, feature in _PLANNED.items():
        if not _missing(module):
            continue
        for where, text in texts.items():
            claims = [s for s in _claims(text) if feature.search(s)]
            assert claims == [], (module, where)
        for path in documents:
            if path.suffix in {".md", ".rst"} and "_build" not in path.parts:
                assert module not in path.read_text(encoding="utf-8"), (module, path)
    assert _claims("OAuth 2.x is not implemented yet. JOSE is.") == ["JOSE is."]


def test_ruff_is_pinned_alike_everywhere() -> None:
    """pre-commit, `tox -e lint` and the dev extra run one ruff version, pinned exactly."""
    pins = {
        name: re.findall(r"\bruff==([\w.]+)", (ROOT / name).read_text(encoding="utf-8"))
        for name in ("pyproject.toml", "tox.ini", ".pre-commit-config.yaml")
    }
    assert all(pins.values()), pins
    assert len({version for found in pins.values() for version in found}) == 1, pins
    hooks = (ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    assert "entry: ruff check" in hooks
    assert "entry: ruff format --check" in hooks
