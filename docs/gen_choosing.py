# ruff: noqa: INP001 - a script beside conf.py, not a package
"""Generate the choosing guide's comparison table and decision flowchart.

Writes ``docs/guides/choosing.inc`` (included by ``docs/guides/choosing.rst``) from the two
data tables below, :data:`COMPARISON` and :data:`DECISIONS`: a reST list-table, the flowchart
as an SVG drawing laid out here (no Graphviz or JavaScript needed to build or view it), and the
same flowchart as a numbered list for every other reader.  ``--check`` exits 1 when the file is
stale; ``tests/test_docs.py`` runs it, and checks that every API the cells name exists.

Usage::

    python docs/gen_choosing.py [--check]
"""

from __future__ import annotations

import html
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from _generate import write_or_check  # docs/ is the script's directory

OUTPUT = Path(__file__).resolve().parent / "guides" / "choosing.inc"

METHODS = ("API keys", "JWT (JOSE)", "OAuth 2.0", "mTLS")


@dataclass(frozen=True)
class Cell:
    """One method against one criterion: how it fares, and what authcore does about it."""

    verdict: str
    authcore: str


@dataclass(frozen=True)
class Criterion:
    """A row of the comparison: one cell per method, in the order of :data:`METHODS`."""

    name: str
    cells: tuple[Cell, Cell, Cell, Cell]


COMPARISON: tuple[Criterion, ...] = (
    Criterion(
        "Complexity",
        (
            Cell(
                "Lowest: one header, one lookup. Weakness: keys leak into logs and repositories.",
                "Keys with a public prefix and a checksum (:func:`~authcore.apikeys.generate`), "
                "so scanners spot leaks and typos fail before any lookup; only a peppered hash "
                "is stored (:class:`~authcore.apikeys.KeyManager`).",
            ),
            Cell(
                "Medium: algorithms, keys and claim checks to get right; the classic "
                "mistakes (``alg: none``, algorithm confusion, no ``exp``) are silent.",
                ":class:`~authcore.jose.jwt.JWTVerifier` needs an algorithm list, has no "
                "``none``, requires ``exp`` by default and checks ``typ`` on request.",
            ),
            Cell(
                "Highest: redirects, PKCE, consent, client authentication and a dozen RFCs.",
                ":class:`~authcore.oauth.AuthorizationServer` decides every grant as a pure "
                "function with secure defaults (:class:`~authcore.oauth.Policy`); "
                ":class:`~authcore.oauth.client.OAuthClient` is the sans-IO client side.",
            ),
            Cell(
                "High in operations: a PKI to run, certificates to issue and rotate; "
                "failures surface as opaque TLS errors.",
                ":func:`~authcore.mtls.verify_client` names what failed with a typed error "
                "(:class:`~authcore.errors.UntrustedCertificate`, "
                ":class:`~authcore.errors.NameMismatch`, "
                ":class:`~authcore.errors.CertificateExpired`, ...).",
            ),
        ),
    ),
    Criterion(
        "User context",
        (
            Cell(
                "None: a key names an application (its owner), not a user.",
                "Key records carry an owner and scopes; to name a user too, pair the key with a "
                "JWT (API key + JWT).",
            ),
            Cell(
                "Yes: ``sub`` and any claims travel in the token.",
                "Claims come back as a ``dict`` only after the signature and every claim "
                "check passed (:meth:`~authcore.jose.jwt.JWTVerifier.verify`).",
            ),
            Cell(
                "Yes: the user (``sub``) and the scopes they consented to.",
                ":meth:`~authcore.oauth.AuthorizationServer.complete_authorization` records "
                "the subject and the granted scopes; the resource server reads them back "
                "(:class:`~authcore.oauth.resource.ResourceServer`).",
            ),
            Cell(
                "None: a certificate names a workload (SPIFFE ID, DNS name), not a user.",
                "Pair with a JWT bound to the certificate (mTLS + JWT): "
                ":func:`~authcore.mtls.check_binding` checks ``cnf.x5t#S256``.",
            ),
        ),
    ),
    Criterion(
        "Statelessness",
        (
            Cell(
                "Stateful: every request looks the key up.",
                "One indexed lookup by key id and a constant-time hash comparison, on memory, "
                "SQLite, Redis or PostgreSQL stores (:mod:`authcore.stores`).",
            ),
            Cell(
                "Stateless: verified with a public key, no lookup.",
                "Keys come from a cached JWKS that refreshes on an unknown ``kid`` "
                "(:class:`~authcore.jose.jwks.JWKSCache`).",
            ),
            Cell(
                "Either: JWT access tokens (stateless) or opaque ones (introspected).",
                ":class:`~authcore.oauth.TokenFormat` chooses; "
                ":class:`~authcore.oauth.resource.ResourceServer` verifies JWTs locally and "
                ":class:`~authcore.oauth.resource.Introspector` asks the server (RFC 7662).",
            ),
            Cell(
                "Stateless per connection, except revocation checks.",
                "Fetched CRLs are kept and reused, failed fetches remembered "
                "(:class:`~authcore.mtls.CRLChecker`); :class:`~authcore.mtls.OCSPChecker` "
                "asks per certificate.",
            ),
        ),
    ),
    Criterion(
        "Revocation",
        (
            Cell(
                "Immediate: disable or delete the record.",
                ":meth:`~authcore.apikeys.KeyManager.revoke`, and "
                ":meth:`~authcore.apikeys.KeyManager.rotate` with a grace period so a "
                "rotation breaks no client.",
            ),
            Cell(
                "Hard: a token stays valid until ``exp``.",
                "Short lifetimes, plus a denylist checked after verification "
                "(:func:`~authcore.jose.denylist.revoke`, ``JWTVerifier(denylist=...)``).",
            ),
            Cell(
                "Built in (RFC 7009), but refresh tokens can be stolen and replayed.",
                ":meth:`~authcore.oauth.AuthorizationServer.revocation_endpoint` revokes a "
                "whole grant family; a reused refresh token revokes its family "
                "(:class:`~authcore.oauth.RefreshFamilies`), and introspection reports "
                "revoked JWTs inactive.",
            ),
            Cell(
                "CRL and OCSP, often skipped; an unreachable responder is a policy choice.",
                ":class:`~authcore.mtls.RevocationPolicy` makes it explicit (hard or soft "
                "fail), raising :class:`~authcore.errors.RevokedCertificate` or "
                ":class:`~authcore.errors.RevocationUnknown`.",
            ),
        ),
    ),
    Criterion(
        "Delegated access",
        (
            Cell(
                "No: a key acts for its owner, within its scopes.",
                "Per-key scopes, checked on every call "
                "(:meth:`~authcore.apikeys.KeyManager.verify`, "
                ":class:`~authcore.errors.InsufficientScope`).",
            ),
            Cell(
                "Only what the issuer wrote into the token.",
                "Let an OAuth server issue the token: RFC 9068 access tokens with "
                "``scope`` and ``client_id``.",
            ),
            Cell(
                "What it is for: a third-party application acts for a user, with consent.",
                "Scopes only narrow on refresh; resource indicators (RFC 8707) limit where a "
                "token is accepted (:class:`~authcore.oauth.Policy`).",
            ),
            Cell(
                "No.",
                "Certificate-bound OAuth tokens (RFC 8705: ``tls_client_auth``, "
                "``cnf.x5t#S256``) combine both.",
            ),
        ),
    ),
    Criterion(
        "Browser fit",
        (
            Cell(
                "Poor: anything in a browser is public.",
                "Keep keys on servers; browsers use OAuth (code + PKCE).",
            ),
            Cell(
                "Risky: a bearer token in script-readable storage is stolen by any XSS.",
                "Short-lived tokens with rotating refresh tokens "
                "(:class:`~authcore.oauth.RefreshFamilies`), or DPoP-bound tokens that are "
                "useless without the browser's key (:mod:`authcore.oauth.dpop`).",
            ),
            Cell(
                "Good: the authorization code flow with PKCE suits public clients.",
                "PKCE S256 required for every client, exact redirect URI matching, and the "
                "RFC 9207 ``iss`` parameter against mix-up attacks, all by default.",
            ),
            Cell(
                "Poor: client certificates in browsers are hard to deploy.",
                "Use mTLS between services, OAuth for browsers.",
            ),
        ),
    ),
    Criterion(
        "Server-to-server",
        (
            Cell(
                "Good for your customers' programs calling your API.",
                "Per-key rate limits with ``RateLimit-*`` headers "
                "(:meth:`~authcore.apikeys.KeyManager.verify_with_limit`, "
                ":meth:`~authcore.errors.RateLimited.headers`); webhook signatures for the "
                "calls back (:func:`~authcore.webhooks.verify`).",
            ),
            Cell(
                "Good for your own services passing identity along.",
                "Certificate-bound or DPoP-bound tokens so a token copied from a log is "
                "useless (:func:`~authcore.mtls.check_binding`, "
                ":func:`~authcore.oauth.dpop.verify_proof`).",
            ),
            Cell(
                "Client credentials grant for machine clients.",
                "``private_key_jwt`` and ``tls_client_auth`` client authentication, so no "
                "shared secret is sent (:class:`~authcore.oauth.client.PrivateKeyJwt`).",
            ),
            Cell(
                "Best: zero-trust service-to-service traffic, both ends proven.",
                "SPIFFE identities (:class:`~authcore.mtls.SpiffeId`) and certificates "
                "forwarded by a trusted proxy (:func:`~authcore.mtls.chain_from_headers`).",
            ),
        ),
    ),
)


@dataclass(frozen=True)
class Decision:
    """One question of the flowchart; "yes" leads to ``answer``, "no" to the next question."""

    question: str
    answer: str
    guide: str


DECISIONS: tuple[Decision, ...] = (
    Decision(
        "Does another company's application act on behalf of your users?",
        "OAuth 2.0: authorization code + PKCE, issuing JWT access tokens",
        "oauth",
    ),
    Decision(
        "Do your own services call each other over a network you do not trust?",
        "mTLS; add a certificate-bound JWT when a user's identity travels too",
        "mtls",
    ),
    Decision(
        "Do your customers' programs call your API?",
        "API keys; sign the webhooks you send back to them",
        "apikeys",
    ),
    Decision(
        "Does your own web or mobile app log its users in?",
        "Short-lived JWT access tokens with rotating refresh tokens",
        "jose",
    ),
    Decision(
        "Must a downstream service know the caller without calling back?",
        "JWTs verified against the issuer's JWKS",
        "key-lifecycle",
    ),
)
FALLBACK = "Start with API keys: the simplest method that works"
FALLBACK_GUIDE = "apikeys"

# Flowchart geometry, in SVG user units.
_WIDTH = 760
_QUESTION_X, _QUESTION_W = 10, 340
_ANSWER_X, _ANSWER_W = 420, 330
_LINE, _PAD, _GAP = 18, 12, 44
_CHARS = 40  # characters per line at 14px in both boxes


def _table() -> list[str]:
    out = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :stub-columns: 1",
        "   :widths: 12 22 22 22 22",
        "   :class: choosing",
        "",
        "   * - Criterion",
    ]
    out += [f"     - {method}" for method in METHODS]
    for criterion in COMPARISON:
        out.append(f"   * - {criterion.name}")
        for cell in criterion.cells:
            out += [f"     - {cell.verdict}", "", f"       *authcore:* {cell.authcore}"]
    return out


def _box(x: int, y: int, width: int, lines: list[str], css: str) -> list[str]:
    height = len(lines) * _LINE + 2 * _PAD
    out = [
        f'<rect class="{css}" x="{x}" y="{y}" width="{width}" height="{height}" rx="8"/>',
        f'<text x="{x + width // 2}" y="{y + _PAD + 13}" text-anchor="middle">',
    ]
    out += [
        f'<tspan x="{x + width // 2}" dy="{0 if i == 0 else _LINE}">{html.escape(line)}</tspan>'
        for i, line in enumerate(lines)
    ]
    out.append("</text>")
    return out


def _arrow(x1: int, y1: int, x2: int, y2: int, label: str) -> list[str]:
    mid_x, mid_y = (x1 + x2) // 2, (y1 + y2) // 2
    label_x, label_y = (mid_x + 8, mid_y + 4) if x1 == x2 else (mid_x, mid_y - 6)
    anchor = "start" if x1 == x2 else "middle"
    return [
        f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" marker-end="url(#arrow)"/>',
        f'<text class="label" x="{label_x}" y="{label_y}" text-anchor="{anchor}">{label}</text>',
    ]


def _svg() -> list[str]:
    body: list[str] = []
    y = 10
    centre = _QUESTION_X + _QUESTION_W // 2
    for decision in DECISIONS:
        question = textwrap.wrap(decision.question, _CHARS)
        answer = textwrap.wrap(decision.answer, _CHARS)
        height = max(len(question), len(answer)) * _LINE + 2 * _PAD
        q_top = y + (height - (len(question) * _LINE + 2 * _PAD)) // 2
        a_top = y + (height - (len(answer) * _LINE + 2 * _PAD)) // 2
        body += _box(_QUESTION_X, q_top, _QUESTION_W, question, "question")
        body += _box(_ANSWER_X, a_top, _ANSWER_W, answer, "answer")
        middle = y + height // 2
        body += _arrow(_QUESTION_X + _QUESTION_W, middle, _ANSWER_X - 4, middle, "yes")
        bottom = q_top + len(question) * _LINE + 2 * _PAD
        y += height + _GAP
        body += _arrow(centre, bottom, centre, y - 4, "no")
    fallback = textwrap.wrap(FALLBACK, _CHARS)
    body += _box(_QUESTION_X, y, _QUESTION_W, fallback, "answer")
    height = y + len(fallback) * _LINE + 2 * _PAD + 10
    head = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {height}" '
            'width="100%" role="img" aria-labelledby="choosing-title">'
        ),
        '<title id="choosing-title">Which authentication method: decision flowchart</title>',
        "<style>",
        "text { font: 14px sans-serif; fill: #1a1a1a; }",
        "text.label { font-size: 12px; fill: #555; }",
        "rect.question { fill: #fff; stroke: #1a1a1a; stroke-width: 1.5; }",
        "rect.answer { fill: #e3f0e3; stroke: #2e7d32; stroke-width: 1.5; }",
        "line { stroke: #555; stroke-width: 1.5; }",
        "</style>",
        "<defs>",
        (
            '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
            'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker>'
        ),
        "</defs>",
    ]
    return [*head, *body, "</svg>"]


def _steps() -> list[str]:
    out = [
        f"#. {d.question} **Yes:** {d.answer} (:doc:`{d.guide}`). **No:** next question."
        for d in DECISIONS
    ]
    out.append(f"#. Otherwise: {FALLBACK} (:doc:`{FALLBACK_GUIDE}`).")
    return out


def render() -> str:
    """The generated reST (deterministic: the tables' order)."""
    out = [
        ".. This file is generated by docs/gen_choosing.py from its COMPARISON and",
        "   DECISIONS tables; do not edit it by hand.",
        "",
        ".. _choosing-comparison:",
        "",
        "The four methods compared",
        "-------------------------",
        "",
        "Each cell says how the method fares, then what authcore does about its weakness.",
        "",
        *_table(),
        "",
        ".. _choosing-flowchart:",
        "",
        "Decision flowchart",
        "------------------",
        "",
        "Answer the questions from the top; the first *yes* is your method.",
        "",
        ".. raw:: html",
        "",
        *textwrap.indent("\n".join(_svg()), "   ").splitlines(),
        "",
        *_steps(),
        "",
    ]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    """Write the include file, or with ``--check`` report whether it is current."""
    return write_or_check(OUTPUT, render(), argv, "gen_choosing.py")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
