"""Sphinx configuration for the authcore documentation.

The build is nitpicky (``-n``): every cross-reference must resolve, and CI fails on a warning.
Three small hooks below make references resolve where autodoc alone cannot; none of them
hides a reference to something that does not exist.
"""

from __future__ import annotations

import pydoc
import sys
import types
import typing
from typing import TYPE_CHECKING

from sphinx.pycode import ModuleAnalyzer

import authcore

if TYPE_CHECKING:
    from docutils.nodes import Element, TextElement
    from sphinx.application import Sphinx
    from sphinx.environment import BuildEnvironment

project = "authcore"
author = "The authcore developers"
copyright = "2026, The authcore developers"
release = authcore.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = f"authcore {release}"

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# Intersphinx needs the network, which documentation builds here do not have.
intersphinx_mapping: dict[str, tuple[str, None]] = {}
suppress_warnings = ["myst.header"]

nitpicky = True

# Targets outside this project: the standard library and ``cryptography``, which intersphinx
# would link if builds had the network.  Listed one by one (including the spellings that
# annotations use, such as ``dt.datetime`` for ``import datetime as dt``), so that a wrong
# name of our own still fails the build.
_EXTERNAL: dict[str, tuple[str, ...]] = {
    "py:class": (
        "_thread.allocate_lock",
        "asyncio.Lock",
        "asyncio.locks.Lock",
        "collections.abc.Awaitable",
        "collections.abc.Callable",
        "collections.abc.Collection",
        "collections.abc.Generator",
        "collections.abc.Iterable",
        "collections.abc.Mapping",
        "collections.abc.Sequence",
        "cryptography.hazmat.bindings._rust.x509.Certificate",
        "cryptography.hazmat.bindings._rust.x509.CertificateRevocationList",
        "cryptography.hazmat.primitives.asymmetric.ed25519.Ed25519PrivateKey",
        "cryptography.hazmat.primitives.asymmetric.ed25519.Ed25519PublicKey",
        "cryptography.hazmat.primitives.hashes.HashAlgorithm",
        "cryptography.x509.Certificate",
        "cryptography.x509.name.Name",
        "datetime.datetime",
        "datetime.timedelta",
        "dt.datetime",
        "dt.timedelta",
        "email.message.Message",
        "enum.Enum",
        "http.server.BaseHTTPRequestHandler",
        "ipaddress.IPv4Address",
        "ipaddress.IPv6Address",
        "os.PathLike",
        "pathlib.Path",
        "sqlite3.Connection",
        "ssl.SSLContext",
        "urllib.parse.SplitResult",
        "x509.Certificate",
        "x509.CertificateRevocationList",
    ),
    "py:data": ("os.environ",),
    "py:exc": ("sqlite3.Error",),
    "py:func": (
        "asyncio.to_thread",
        "atexit.register",
        "ssl.create_default_context",
        "wsgiref.util.setup_testing_defaults",
    ),
    "py:mod": ("secrets", "sqlite3", "urllib.request", "wsgiref", "wsgiref.simple_server"),
}
# Private targets that public signatures mention: type variables of generic classes, the
# mixins verified-webhook results share, and the enum of SignatureAlgorithm.family.
_PRIVATE: dict[str, tuple[str, ...]] = {
    "py:class": (
        "T",
        "_S",
        "authcore.jose._jwa.Family",
        "_FetchT",
        "_IntroT",
        "_SendT",
        "_StoreT",
        "authcore.webhooks._common.HasJSONPayload",
        "authcore.webhooks._common.HasTimestamp",
    ),
}
nitpick_ignore = [
    (role, target)
    for table in (_EXTERNAL, _PRIVATE)
    for role, names in table.items()
    for target in names
]

_MISSING = object()


def _lookup(dotted: str) -> object:
    """The object ``dotted`` names (longest importable module, then attributes), or _MISSING."""
    value = pydoc.locate(dotted)
    return _MISSING if value is None else value


def _identifiable(value: object) -> bool:
    """Whether ``value`` is one definition (not a constant that other names may share)."""
    return isinstance(value, (type, types.FunctionType, types.ModuleType, property)) or (
        typing.get_origin(value) is not None or isinstance(value, types.UnionType)
    )


_DOCUMENTED: dict[int, str] = {}


def _documented(env: BuildEnvironment) -> dict[int, str]:
    """Every documented authcore object by identity, to the name it is documented under."""
    if not _DOCUMENTED:
        for name, entry in env.get_domain("py").objects.items():  # type: ignore[attr-defined]
            if name.startswith("authcore.") and not entry.aliased:
                value = _lookup(name)
                if value is not _MISSING and _identifiable(value):
                    _DOCUMENTED.setdefault(id(value), name)
    return _DOCUMENTED


def _resolve_reexport(
    app: Sphinx, env: BuildEnvironment, node: Element, contnode: TextElement
) -> Element | None:
    """Resolve a name that reaches a documented object another way.

    ``authcore.jose.JWTVerifier`` is documented as ``authcore.jose.jwt.JWTVerifier``;
    ``StoreError`` in the docstring of a module that imported it is
    ``authcore.errors.StoreError``; ``g.Policy`` is ``authcore.oauth.Policy`` when the
    module did ``from authcore.oauth import _grants as g``.  The name is imported in the
    context of the reference, and linked only if it *is* a documented authcore object.
    """
    if node.get("refdomain") != "py":
        return None
    target: str = node["reftarget"]
    module, cls = node.get("py:module"), node.get("py:class")
    candidates = [target]
    if module:
        if cls:
            candidates.append(f"{module}.{cls}.{target}")
            # The module that defines the class, where its annotations were written.
            defining = getattr(_lookup(f"{module}.{cls}"), "__module__", None)
            if isinstance(defining, str):
                candidates.append(f"{defining}.{target}")
        candidates.append(f"{module}.{target}")
    documented = _documented(env)
    for candidate in candidates:
        value = _lookup(candidate)
        name = documented.get(id(value)) if _identifiable(value) else None
        if name is not None:
            return env.get_domain("py").resolve_xref(
                env, node["refdoc"], app.builder, "obj", name, node, contnode
            )
    return None


def _public_bases(
    _app: Sphinx, _name: str, _obj: object, _options: object, bases: list[type]
) -> None:
    """Leave private implementation classes (``_Core``) out of "Bases:" lines."""
    bases[:] = [base for base in bases if not base.__name__.startswith("_")]


def _alias_docstring(
    _app: Sphinx, what: str, name: str, obj: object, _options: object, lines: list[str]
) -> None:
    """Give a re-exported type alias the docstring written where it is defined.

    ``authcore.webhooks.WebhookSecret`` is a union object and ``authcore.mtls.ChainInput`` a
    string: autodoc would show the docstring of :class:`types.UnionType` or :class:`str`, or
    nothing.  Only such a docstring is replaced, by the attribute docstring of the same
    object in the authcore module that defines it.
    """
    if what != "data" or isinstance(obj, (type, types.ModuleType)):
        return
    current = " ".join(" ".join(lines).split())
    generic = " ".join((type(obj).__doc__ or "").split())
    if current and current != generic:
        return
    short = name.rsplit(".", 1)[-1]
    for module_name, module in sorted(sys.modules.items()):
        if module_name != "authcore" and not module_name.startswith("authcore."):
            continue
        if vars(module).get(short, _MISSING) is obj:
            docs = ModuleAnalyzer.for_module(module_name).find_attr_docs().get(("", short))
            if docs:
                lines[:] = list(docs)
                return


def setup(app: Sphinx) -> dict[str, object]:
    """Connect the hooks above."""
    app.connect("missing-reference", _resolve_reexport)
    app.connect("autodoc-process-bases", _public_bases)
    app.connect("autodoc-process-docstring", _alias_docstring, priority=400)
    return {"parallel_read_safe": True}
