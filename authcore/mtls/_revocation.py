"""Revocation checking: CRLs (RFC 5280 sections 5 and 6.3) and OCSP (RFC 6960), sans-IO.

Both checkers take the chain that :func:`~authcore.mtls.verify_client` /
:func:`~authcore.mtls.verify_server` verified (leaf first, anchor last) and look at each
(certificate, issuer) pair in scope: the leaf only (:attr:`RevocationScope.LEAF`, the default)
or every certificate below the anchor (:attr:`RevocationScope.CHAIN`).

A revoked certificate always raises :class:`~authcore.errors.RevokedCertificate`.  When no
usable status can be found, :attr:`RevocationPolicy.HARD_FAIL` (the default) raises
:class:`~authcore.errors.RevocationUnknown` and :attr:`RevocationPolicy.SOFT_FAIL` lets the
certificate through.

I/O happens only in the ``fetch`` callables the caller passes; :func:`urllib_crl_fetcher` and
:func:`urllib_ocsp_fetcher` are the standard-library defaults, built on authcore's one guarded
fetch path (the rules of the JWKS fetcher: https, same-origin redirects, a whole-transfer
deadline, media type and size checks).

What is not supported (such data is "unusable", i.e. unknown status): indirect CRLs, delta
CRLs, CRLs signed by a key other than the certificate issuer's, partitioned CRLs by reason,
RSA-PSS signed OCSP responses.  Delegated OCSP responder certificates are not themselves
checked for revocation (RFC 6960 section 4.2.2.2.1 leaves it to id-pkix-ocsp-nocheck).
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import functools
import os
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol, cast

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm as _CryptoUnsupported
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, SignatureAlgorithmOID

from authcore import _fetch
from authcore._ct import bytes_eq
from authcore._fork import lock as fork_safe_lock
from authcore._kinds import is_async_callable
from authcore._options import bool_option
from authcore.errors import (
    ConfigurationError,
    FetchError,
    MalformedCertificate,
    RevocationUnknown,
    RevokedCertificate,
)
from authcore.http import split_url
from authcore.mtls._load import load_crl, serial_of

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable, Hashable, Sequence

__all__ = [
    "CRLChecker",
    "CRLFetcher",
    "OCSPChecker",
    "OCSPFetcher",
    "RevocationPolicy",
    "RevocationScope",
    "RevocationStatus",
    "build_ocsp_request",
    "urllib_crl_fetcher",
    "urllib_ocsp_fetcher",
]

_MAX_CRL_NUMBER: Final = 1 << 159  # RFC 5280 5.2.3: at most 20 octets
# Bounds of what a checker keeps from fetching (the fetched data and URLs come from certificates
# and answers an attacker on the path can influence): entries beyond them evict the oldest.
_MAX_FETCHED_SCOPES: Final = 1024
_MAX_REMEMBERED_FAILURES: Final = 1024
_MAX_OCSP_ANSWERS: Final = 4096
_MAX_STATIC_CHECKS: Final = 4096
_DEFAULT_NEGATIVE_TTL: Final = dt.timedelta(minutes=1)
_OCSP_NONCE_BYTES: Final = 16
_KNOWN_CRL_EXTENSIONS: Final = (
    x509.CRLNumber,
    x509.AuthorityKeyIdentifier,
    x509.IssuerAlternativeName,
    x509.IssuingDistributionPoint,
    x509.FreshestCRL,
    x509.AuthorityInformationAccess,
)
_KNOWN_ENTRY_EXTENSIONS: Final = (x509.CRLReason, x509.InvalidityDate)
# What reading a lazily parsed part of a certificate, CRL or OCSP response can raise in
# cryptography: such data is unusable, never an untyped escape (issue 12 item 3).
_LAZY_ERRORS: Final = (
    ValueError,
    TypeError,
    KeyError,  # cryptography 49 raises KeyError for some malformed names (e.g. a wrong tag)
    OverflowError,
    _CryptoUnsupported,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
    x509.InvalidVersion,
)


class RevocationPolicy(enum.Enum):
    """What to do when no usable revocation status is found.

    .. versionadded:: 0.1.0
    """

    HARD_FAIL = "hard-fail"
    """Raise :class:`~authcore.errors.RevocationUnknown` (the default)."""
    SOFT_FAIL = "soft-fail"
    """Accept the certificate (revoked ones are still refused)."""


class RevocationScope(enum.Enum):
    """Which certificates of the chain are checked.

    .. versionadded:: 0.1.0
    """

    LEAF = "leaf"
    """Only the leaf (the default)."""
    CHAIN = "chain"
    """The leaf and every intermediate (not the anchor)."""


class CRLFetcher(Protocol):
    """Fetch a CRL from a distribution point URL; return its bytes or raise FetchError.

    .. versionadded:: 0.1.0
    """

    def __call__(self, url: str, /) -> bytes:
        """Return the CRL (DER or PEM) at ``url``."""
        ...


class OCSPFetcher(Protocol):
    """Send a DER OCSP request to a responder URL; return the DER response or raise FetchError.

    .. versionadded:: 0.1.0
    """

    def __call__(self, url: str, request: bytes, /) -> bytes:
        """Return the responder's answer to ``request``."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class RevocationStatus:
    """The revocation status of one certificate, as a checker found it.

    Attributes:
        revoked: Whether it is revoked.
        reason: The revocation reason name (``"keyCompromise"``...), if given.
        date: The revocation date, if revoked.
        problem: Why no usable status was found (then ``revoked`` is ``False``).

    .. versionadded:: 0.1.0
    """

    revoked: bool = False
    reason: str | None = None
    date: dt.datetime | None = None
    problem: str | None = None  # set when no usable status was found


def _check_options(policy: object, scope: object, fetch: object, **durations: object) -> None:
    if not isinstance(policy, RevocationPolicy) or not isinstance(scope, RevocationScope):
        raise ConfigurationError("policy and scope must be RevocationPolicy/RevocationScope")
    # An async fetch's coroutine would be read as the answer: every check fails, and under
    # SOFT_FAIL every certificate passes.
    if fetch is not None and (not callable(fetch) or is_async_callable(fetch)):
        raise ConfigurationError("fetch must be a synchronous callable (or None)")
    for name, value in durations.items():
        if not isinstance(value, dt.timedelta) or value < dt.timedelta(0):
            raise ConfigurationError(f"{name} must be a non-negative timedelta")


def _check_chain(
    chain: Sequence[x509.Certificate],
    scope: RevocationScope,
    policy: RevocationPolicy,
    status_of: Callable[[int, x509.Certificate, x509.Certificate], RevocationStatus],
) -> None:
    """Ask ``status_of`` about each (index, certificate, issuer) in scope, stopping at a refusal."""
    last = 1 if scope is RevocationScope.LEAF else len(chain) - 1
    for i in range(min(last, len(chain) - 1)):  # a pair needs an issuer
        status = status_of(i, chain[i], chain[i + 1])
        where = "leaf" if i == 0 else f"chain[{i}]"
        if status.revoked:
            raise RevokedCertificate(
                f"{where} is revoked" + (f" ({status.reason})" if status.reason else ""),
                revocation_reason=status.reason,
                revocation_date=status.date,
            )
        if status.problem is not None and policy is RevocationPolicy.HARD_FAIL:
            raise RevocationUnknown(f"{where}: {status.problem}")


def _reason_name(reason: x509.ReasonFlags | None) -> str | None:
    return None if reason is None or reason is x509.ReasonFlags.unspecified else reason.value


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _http_urls(cert: x509.Certificate, ext_type: type[x509.ExtensionType]) -> list[str]:
    try:
        value = cert.extensions.get_extension_for_class(ext_type).value
    except (x509.ExtensionNotFound, ValueError, TypeError):
        return []
    urls: list[str] = []
    if isinstance(value, x509.CRLDistributionPoints):
        for dp in value:
            urls.extend(
                n.value for n in dp.full_name or () if isinstance(n, x509.UniformResourceIdentifier)
            )
    elif isinstance(value, x509.AuthorityInformationAccess):
        urls.extend(
            d.access_location.value
            for d in value
            if d.access_method == x509.oid.AuthorityInformationAccessOID.OCSP
            and isinstance(d.access_location, x509.UniformResourceIdentifier)
        )
    return [u for u in urls if split_url(u).scheme in {"http", "https"}]


def _key_usage_allows_crl(issuer: x509.Certificate) -> bool:
    try:
        ku = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True  # RFC 5280 6.3.3(f): only checked when keyUsage is present
    return ku.crl_sign


class _FailureMemory:
    """Fetches that failed or gave nothing usable, remembered for ``ttl`` (bounded, oldest out).

    Keys are URLs (the endpoint failed) or (URL, certificate) pairs (its answer about that
    certificate was unusable).  A clock moved back never blocks a fetch.
    """

    __slots__ = ("_entries", "_lock", "_ttl")

    def __init__(self, ttl: dt.timedelta) -> None:
        self._ttl = ttl
        self._entries: dict[Hashable, tuple[dt.datetime, dt.datetime]] = {}
        self._lock = fork_safe_lock()

    def blocked_until(self, key: Hashable, now: dt.datetime) -> dt.datetime | None:
        """When the remembered failure of ``key`` expires, or ``None`` if a fetch may go."""
        entry = self._entries.get(key)
        if entry is None or not entry[0] <= now < entry[1]:
            return None
        return entry[1]

    def failed(self, key: Hashable, now: dt.datetime) -> None:
        """Remember that fetching ``key`` failed at ``now``."""
        if not self._ttl:
            return
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = (now, now + self._ttl)
            while len(self._entries) > _MAX_REMEMBERED_FAILURES:
                del self._entries[next(iter(self._entries))]

    def succeeded(self, key: Hashable) -> None:
        """Forget a failure of ``key``."""
        with self._lock:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


def _recently_failed(until: dt.datetime) -> str:
    return f"fetch failed recently; next attempt after {until.isoformat()}"


# ---------------------------------------------------------------------------------------- CRL


class CRLChecker:
    """Check certificates against CRLs issued by their own issuers.

    A CRL is used for a certificate only when: its issuer name equals the certificate's issuer
    (and its authorityKeyIdentifier, if any, the issuer's subjectKeyIdentifier); its signature
    verifies with the issuer's key; the issuer's keyUsage, if present, has cRLSign; it has a
    non-critical cRLNumber of at most 20 octets; every critical extension is understood (delta
    and indirect CRLs are refused); thisUpdate <= now <= nextUpdate (with ``leeway``); its
    issuingDistributionPoint, if any, covers the certificate.  Among usable CRLs of one issuer
    the highest cRLNumber wins; one with a lower number than a CRL already verified for that
    issuer is ignored (rollback).  When none is usable and ``fetch`` is given, the
    certificate's HTTP(S) distribution points are fetched in turn.

    What fetching keeps is bounded, since distribution points are often plain http and anyone
    on the path can answer them: a fetched CRL that is not usable for the certificate (bad
    signature, wrong issuer, stale, ...) is discarded at once; per issuer key and CRL scope
    only the newest usable fetched CRL is kept (and at most 1024 scopes in all); a fetch that
    fails or brings nothing usable is not repeated for that URL within ``negative_ttl``.

    Args:
        crls: CRL objects, or PEM/DER data holding CRLs.
        policy: Hard- or soft-fail when no usable CRL is found.
        scope: Leaf only or the whole chain.
        fetch: Optional fetcher for distribution points (see :func:`urllib_crl_fetcher`).
        leeway: Clock skew tolerated on thisUpdate/nextUpdate.
        negative_ttl: How long a failed or unusable fetch of a URL is remembered (zero:
            not at all).

    Raises:
        ConfigurationError: If a given CRL cannot be parsed or an option is invalid.

    .. versionadded:: 0.1.0

    .. versionchanged:: 0.1.0
       Fetched CRLs are kept only when usable, one per issuer and scope; ``negative_ttl``.
    """

    __slots__ = (
        "_best",
        "_by_issuer",
        "_failures",
        "_fetch",
        "_fetched",
        "_leeway",
        "_lock",
        "_policy",
        "_scope",
        "_static_cache",
    )

    def __init__(
        self,
        crls: Iterable[x509.CertificateRevocationList | bytes | str]
        | x509.CertificateRevocationList
        | bytes
        | str = (),
        *,
        policy: RevocationPolicy = RevocationPolicy.HARD_FAIL,
        scope: RevocationScope = RevocationScope.LEAF,
        fetch: CRLFetcher | None = None,
        leeway: dt.timedelta = dt.timedelta(0),
        negative_ttl: dt.timedelta = _DEFAULT_NEGATIVE_TTL,
    ) -> None:
        _check_options(policy, scope, fetch, leeway=leeway, negative_ttl=negative_ttl)
        self._policy, self._scope, self._fetch, self._leeway = policy, scope, fetch, leeway
        self._by_issuer: dict[bytes, list[x509.CertificateRevocationList]] = {}
        # Fetched CRLs: issuer key hash -> CRL scope -> (cRLNumber, the newest usable CRL).
        self._fetched: dict[
            bytes,
            dict[x509.IssuingDistributionPoint | None, tuple[int, x509.CertificateRevocationList]],
        ] = {}
        self._failures = _FailureMemory(negative_ttl)
        self._static_cache: dict[
            tuple[int, x509.Certificate],
            tuple[x509.CertificateRevocationList, int | str, x509.IssuingDistributionPoint | None],
        ] = {}
        self._best: dict[tuple[bytes, x509.IssuingDistributionPoint | None], int] = {}
        self._lock = fork_safe_lock()
        items = [crls] if isinstance(crls, (x509.CertificateRevocationList, bytes, str)) else crls
        if not isinstance(cast("object", items), Iterable):
            raise ConfigurationError("crls must be a CRL (PEM, DER or loaded) or a list of them")
        try:
            loaded = [crl for item in items for crl in load_crl(item)]
        except MalformedCertificate as exc:
            raise ConfigurationError(f"CRL: {exc.reason}") from None
        for crl in loaded:
            self.add(crl)

    def add(self, crl: x509.CertificateRevocationList) -> None:
        """Add a CRL to the pool (it is verified when used, against the issuer in the chain)."""
        key = crl.issuer.public_bytes()
        with self._lock:
            pool = self._by_issuer.setdefault(key, [])
            if crl not in pool:
                pool.append(crl)

    def check(
        self,
        chain: Sequence[x509.Certificate],
        *,
        now: dt.datetime,
        stapled_ocsp: bytes | None = None,
    ) -> None:
        """Check the chain (leaf first, anchor last); see :class:`RevocationChecker`.

        Raises:
            RevokedCertificate: If a certificate in scope is listed.
            RevocationUnknown: If no usable CRL was found under the hard-fail policy.
        """
        del stapled_ocsp
        _check_chain(
            chain,
            self._scope,
            self._policy,
            lambda _, cert, issuer: self.status(cert, issuer, now=now),
        )

    def status(
        self, cert: x509.Certificate, issuer: x509.Certificate, *, now: dt.datetime
    ) -> RevocationStatus:
        """Return the status of ``cert`` from the CRLs of ``issuer`` (fetching if configured).

        Data that cannot be parsed gives a status whose ``problem`` says so; only
        configuration mistakes raise.
        """
        try:
            return self._status(cert, issuer, now)
        except _LAZY_ERRORS as exc:
            return RevocationStatus(problem=f"CRL data cannot be parsed ({type(exc).__name__})")

    def _status(
        self, cert: x509.Certificate, issuer: x509.Certificate, now: dt.datetime
    ) -> RevocationStatus:
        status = self._from_pool(cert, issuer, now)
        if status.problem is None or self._fetch is None:
            return status
        for url in _http_urls(cert, x509.CRLDistributionPoints):
            until = self._failures.blocked_until(url, now)
            if until is not None:
                status = RevocationStatus(problem=f"CRL {_recently_failed(until)}")
                continue
            problem = self._fetch_usable(self._fetch, url, cert, issuer, now)
            if problem is not None:
                self._failures.failed(url, now)
                status = RevocationStatus(problem=problem)
                continue
            self._failures.succeeded(url)
            fetched = self._from_pool(cert, issuer, now)
            if fetched.problem is None:
                return fetched
        return status

    def _fetch_usable(
        self,
        fetch: CRLFetcher,
        url: str,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        now: dt.datetime,
    ) -> str | None:
        """Fetch ``url`` and keep the newest CRL usable for ``cert``; else say what went wrong."""
        try:
            crls = load_crl(fetch(url))
        except FetchError as exc:
            return f"CRL fetch failed: {exc.reason}"
        except MalformedCertificate as exc:
            return f"fetched CRL refused: {exc.reason}"
        spki = _spki_hash(issuer)
        kept = False
        problem = "fetched CRL is not from the certificate's issuer"
        for crl in crls:
            # Checked without filling the per-CRL cache: a CRL that fails is dropped at once.
            try:
                if crl.issuer != cert.issuer:
                    continue
                number, idp = _static_checks(crl, issuer)
                usable = (
                    number
                    if isinstance(number, str)
                    else self._usable(crl, cert, issuer, now, static=(number, idp))
                )
            except _LAZY_ERRORS:
                problem = "fetched CRL cannot be parsed"
                continue
            if isinstance(usable, str) or isinstance(number, str):
                problem = f"fetched CRL unusable: {usable}"
                continue
            with self._lock:
                scopes = self._fetched.setdefault(spki, {})
                current = scopes.get(idp)
                if current is not None:
                    if current[0] >= number:
                        kept = True  # what we hold is as new; the fetched copy is dropped
                        continue
                    self._static_cache.pop((id(current[1]), issuer), None)
                scopes[idp] = (number, crl)
                kept = True
                self._evict_fetched()
        return None if kept else problem

    def _evict_fetched(self) -> None:
        """Drop the oldest fetched scopes beyond the bound (the lock is held)."""
        while sum(len(scopes) for scopes in self._fetched.values()) > _MAX_FETCHED_SCOPES:
            spki = next(iter(self._fetched))
            scopes = self._fetched[spki]
            scopes.pop(next(iter(scopes)))
            if not scopes:
                del self._fetched[spki]

    def _from_pool(  # noqa: C901, PLR0911 - one exit per outcome
        self, cert: x509.Certificate, issuer: x509.Certificate, now: dt.datetime
    ) -> RevocationStatus:
        key = issuer.subject.public_bytes()
        candidates = list(self._by_issuer.get(key, ()))
        candidates.extend(crl for _, crl in self._fetched.get(_spki_hash(issuer), {}).values())
        if not candidates:
            return RevocationStatus(problem="no CRL from the issuer")
        best: tuple[int, x509.CertificateRevocationList] | None = None
        problem = "no CRL from the issuer"
        for crl in candidates:
            result = self._usable(crl, cert, issuer, now)
            if isinstance(result, str):
                problem = result
                continue
            if best is None or result > best[0]:
                best = (result, crl)
        if best is None:
            return RevocationStatus(problem=problem)
        number, crl = best
        # cRLNumber increases per issuer and CRL scope (RFC 5280 5.2.3): the scope is the
        # issuing distribution point, so partitions are tracked separately.
        scope = (_spki_hash(issuer), self._static(crl, issuer)[1])
        with self._lock:
            highest = self._best.get(scope, -1)
            if number < highest:
                return RevocationStatus(
                    problem="CRL number is lower than one already seen (rollback)"
                )
            self._best[scope] = number
        entry = crl.get_revoked_certificate_by_serial_number(serial_of(cert))
        if entry is None:
            return RevocationStatus()
        reason: x509.ReasonFlags | None = None
        try:
            for ext in entry.extensions:
                if isinstance(ext.value, x509.CRLReason):
                    reason = ext.value.reason
                elif ext.critical and not isinstance(ext.value, _KNOWN_ENTRY_EXTENSIONS):
                    return RevocationStatus(
                        problem="CRL entry has an unsupported critical extension"
                    )
        except (ValueError, TypeError):
            return RevocationStatus(problem="CRL entry extensions cannot be parsed")
        return RevocationStatus(
            revoked=True, reason=_reason_name(reason), date=entry.revocation_date_utc
        )

    def _static(
        self, crl: x509.CertificateRevocationList, issuer: x509.Certificate
    ) -> tuple[int | str, x509.IssuingDistributionPoint | None]:
        """The time-independent checks of ``crl`` for ``issuer``, cached per pair."""
        key = (id(crl), issuer)
        cached = self._static_cache.get(key)
        if cached is not None and cached[0] is crl:
            return cached[1], cached[2]
        result, idp = _static_checks(crl, issuer)
        with self._lock:
            if len(self._static_cache) >= _MAX_STATIC_CHECKS:
                self._static_cache.clear()  # rebuilt on demand; only pool and fetched CRLs
            self._static_cache[key] = (crl, result, idp)
        return result, idp

    def _usable(
        self,
        crl: x509.CertificateRevocationList,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        now: dt.datetime,
        *,
        static: tuple[int | str, x509.IssuingDistributionPoint | None] | None = None,
    ) -> int | str:
        """Return the CRL number of a usable CRL, or why it cannot be used."""
        number, idp = static if static is not None else self._static(crl, issuer)
        if isinstance(number, str):
            return number
        if idp is not None:
            problem = _idp_problem(idp, cert)
            if problem is not None:
                return problem
        if crl.last_update_utc > now + self._leeway:
            return "CRL thisUpdate is in the future"
        next_update = crl.next_update_utc
        if next_update is None:
            return "CRL has no nextUpdate"
        if now > next_update + self._leeway:
            return "CRL is stale (past nextUpdate)"
        return number


def _static_checks(  # noqa: C901, PLR0911, PLR0912 - one check per RFC 5280 rule
    crl: x509.CertificateRevocationList, issuer: x509.Certificate
) -> tuple[int | str, x509.IssuingDistributionPoint | None]:
    """Extensions, cRLNumber, the issuer's cRLSign and the signature (RFC 5280 5.2, 6.3.3)."""
    try:
        exts = list(crl.extensions)
    except (ValueError, TypeError):
        return "CRL extensions cannot be parsed", None
    number: int | None = None
    idp: x509.IssuingDistributionPoint | None = None
    for ext in exts:
        value = ext.value
        if isinstance(value, x509.AuthorityKeyIdentifier) and value.key_identifier is not None:
            ski = _ski(issuer)
            if ski is not None and not bytes_eq(ski, value.key_identifier):
                return "CRL authorityKeyIdentifier does not match the issuer", None
        elif isinstance(value, x509.CRLNumber):
            if ext.critical:
                return "cRLNumber must not be critical (RFC 5280 5.2.3)", None
            if not 0 <= value.crl_number < _MAX_CRL_NUMBER:
                return "cRLNumber is out of range", None
            number = value.crl_number
        elif isinstance(value, x509.DeltaCRLIndicator):
            return "delta CRLs are not supported", None
        elif isinstance(value, x509.IssuingDistributionPoint):
            idp = value
        elif ext.critical and not isinstance(value, _KNOWN_CRL_EXTENSIONS):
            return f"CRL has an unsupported critical extension {ext.oid.dotted_string}", None
    if number is None:
        return "CRL has no cRLNumber (RFC 5280 5.2.3)", None
    if not _key_usage_allows_crl(issuer):
        return "CRL issuer's keyUsage lacks cRLSign", None
    try:
        valid = crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except (TypeError, ValueError, _CryptoUnsupported):
        valid = False
    if not valid:
        return "CRL signature does not verify with the issuer's key", None
    return number, idp


def _idp_problem(  # noqa: PLR0911 - one exit per IDP rule
    idp: x509.IssuingDistributionPoint, cert: x509.Certificate
) -> str | None:
    if idp.indirect_crl:
        return "indirect CRLs are not supported"
    if idp.only_some_reasons is not None:
        return "CRLs partitioned by reason are not supported"
    if idp.only_contains_attribute_certs:
        return "CRL covers attribute certificates only"
    if idp.only_contains_user_certs and _is_ca(cert):
        return "CRL covers end-entity certificates only"
    if idp.only_contains_ca_certs and not _is_ca(cert):
        return "CRL covers CA certificates only"
    if idp.relative_name is not None:
        return "issuingDistributionPoint with a relative name is not supported"
    if idp.full_name:
        try:
            dps = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        except (x509.ExtensionNotFound, ValueError, TypeError):
            return "CRL is partitioned and the certificate names no distribution point"
        names = {n for dp in dps for n in dp.full_name or ()}
        if not names.intersection(idp.full_name):
            return "CRL distribution point does not cover the certificate"
    return None


def _ski(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except (x509.ExtensionNotFound, ValueError, TypeError):
        return None


@functools.lru_cache(maxsize=1024)
def _spki_hash(cert: x509.Certificate) -> bytes:
    """SHA-1 of the subjectPublicKey bits: the RFC 6960 key hash (memoized per certificate)."""
    return x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest


# --------------------------------------------------------------------------------------- OCSP


def build_ocsp_request(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    *,
    nonce: bytes | None = None,
    hash_algorithm: hashes.HashAlgorithm | None = None,
) -> bytes:
    """Build a DER OCSP request for ``cert`` (RFC 6960 section 4.1).

    Args:
        cert: The certificate to ask about.
        issuer: Its issuer.
        nonce: An optional nonce (RFC 8954: 1 to 32 bytes).
        hash_algorithm: The CertID hash (SHA-1 by default, as responders expect).

    Raises:
        ConfigurationError: If the nonce length is outside 1..32.

    .. versionadded:: 0.1.0
    """
    if nonce is not None and (
        not isinstance(cast("object", nonce), bytes) or not 1 <= len(nonce) <= 32  # noqa: PLR2004 - RFC 8954 section 2.1
    ):
        raise ConfigurationError("OCSP nonce must be 1 to 32 bytes")
    if hash_algorithm is not None and not isinstance(
        cast("object", hash_algorithm), hashes.HashAlgorithm
    ):
        raise ConfigurationError("hash_algorithm must be a cryptography HashAlgorithm")
    builder = ocsp.OCSPRequestBuilder().add_certificate(
        cert,
        issuer,
        hash_algorithm or hashes.SHA1(),  # noqa: S303 - CertID hash, RFC 5019
    )
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    return builder.build().public_bytes(serialization.Encoding.DER)


def _verify_signature(signer: x509.Certificate, response: ocsp.OCSPResponse) -> bool:
    key = signer.public_key()
    try:
        # Corrupted responses can name a signature algorithm cryptography does not know.
        data, signature = response.tbs_response_bytes, response.signature
        digest = response.signature_hash_algorithm
        if isinstance(key, rsa.RSAPublicKey):
            if (
                response.signature_algorithm_oid == SignatureAlgorithmOID.RSASSA_PSS
                or digest is None
            ):
                return False
            key.verify(signature, data, padding.PKCS1v15(), digest)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            if digest is None:
                return False
            key.verify(signature, data, ec.ECDSA(digest))
        elif isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            key.verify(signature, data)
        else:
            return False
    except (InvalidSignature, ValueError, TypeError, _CryptoUnsupported):
        return False
    return True


_ResponderId = tuple[x509.Name | None, bytes | None]  # (byName, byKey), exactly one set


def _responder_id(resp: ocsp.OCSPResponse) -> _ResponderId | None:
    """The responder id of ``resp``, or ``None`` if it cannot be parsed (it is lazily parsed)."""
    try:
        name = resp.responder_name
        key_hash = None if name is not None else resp.responder_key_hash
    except _LAZY_ERRORS:
        return None
    return name, key_hash


def _responder_matches(responder: _ResponderId, cert: x509.Certificate) -> bool:
    """Whether ``cert`` is the responder; a certificate that cannot be read never is."""
    name, key_hash = responder
    try:
        if name is not None:
            return name == cert.subject
        # Embedded certificates are outside the signed data: whoever staples or answers can
        # change their curve or point, so reading their key may fail.
        return key_hash is not None and bytes_eq(key_hash, _spki_hash(cert))
    except _LAZY_ERRORS:
        return False


def _ocsp_signer(
    resp: ocsp.OCSPResponse, responder: _ResponderId, issuer: x509.Certificate, now: dt.datetime
) -> x509.Certificate | None:
    if _responder_matches(responder, issuer):
        return issuer
    try:
        candidates = list(resp.certificates)
    except _LAZY_ERRORS:
        return None
    for candidate in candidates:
        if not _responder_matches(responder, candidate):
            continue
        try:
            candidate.verify_directly_issued_by(issuer)
            eku = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            valid = candidate.not_valid_before_utc <= now <= candidate.not_valid_after_utc
        except (InvalidSignature, x509.ExtensionNotFound, *_LAZY_ERRORS):
            continue
        if ExtendedKeyUsageOID.OCSP_SIGNING not in eku or not valid:
            continue
        return candidate
    return None


class OCSPChecker:
    """Check certificates with OCSP responses: stapled, or fetched from the AIA responder.

    A response is used only when: its status is successful; a SingleResponse's CertID (serial,
    issuer name hash and issuer key hash) matches the certificate; it is signed by the issuer or
    by a delegated responder certificate included in the response, directly issued by the
    issuer, carrying id-kp-OCSPSigning and valid at ``now``; thisUpdate <= now (+ leeway) and
    now <= nextUpdate (+ leeway), or, without nextUpdate, thisUpdate is within ``max_age``;
    and, when a nonce was sent, the response echoes it.  A stapled response is tried for the
    leaf before anything is fetched.  Usable answers are cached until their nextUpdate (at
    most 4096, expired ones dropped first).  A responder that cannot be reached is not asked
    again within ``negative_ttl``, nor is one whose answer about a certificate was unusable
    asked again about that certificate.

    Args:
        fetch: Sends requests (see :func:`urllib_ocsp_fetcher`); without it only stapled
            responses are used.
        policy: Hard- or soft-fail when no usable response is found.
        scope: Leaf only or the whole chain.
        nonce: Send a random nonce and require it echoed (RFC 8954); off by default because
            many responders serve cached responses without one.
        max_age: Maximum age of a response without nextUpdate.
        leeway: Clock skew tolerated on thisUpdate/nextUpdate.
        negative_ttl: How long a failed fetch (per responder) or an unusable answer (per
            responder and certificate) is remembered (zero: not at all).

    .. versionadded:: 0.1.0

    .. versionchanged:: 0.1.0
       Bounded answer cache; ``negative_ttl``.
    """

    __slots__ = (
        "_cache",
        "_failures",
        "_fetch",
        "_leeway",
        "_lock",
        "_max_age",
        "_nonce",
        "_policy",
        "_scope",
    )

    def __init__(
        self,
        *,
        fetch: OCSPFetcher | None = None,
        policy: RevocationPolicy = RevocationPolicy.HARD_FAIL,
        scope: RevocationScope = RevocationScope.LEAF,
        nonce: bool = False,
        max_age: dt.timedelta = dt.timedelta(days=7),
        leeway: dt.timedelta = dt.timedelta(minutes=5),
        negative_ttl: dt.timedelta = _DEFAULT_NEGATIVE_TTL,
    ) -> None:
        _check_options(
            policy, scope, fetch, max_age=max_age, leeway=leeway, negative_ttl=negative_ttl
        )
        self._fetch, self._policy, self._scope = fetch, policy, scope
        self._nonce = bool_option(nonce, "nonce")
        self._max_age, self._leeway = max_age, leeway
        self._cache: dict[tuple[bytes, int], tuple[dt.datetime, RevocationStatus]] = {}
        self._failures = _FailureMemory(negative_ttl)
        self._lock = fork_safe_lock()

    def check(
        self,
        chain: Sequence[x509.Certificate],
        *,
        now: dt.datetime,
        stapled_ocsp: bytes | None = None,
    ) -> None:
        """Check the chain (leaf first, anchor last); see :class:`RevocationChecker`.

        Raises:
            RevokedCertificate: If a certificate in scope is revoked.
            RevocationUnknown: If no usable response was found under the hard-fail policy.
        """
        _check_chain(
            chain,
            self._scope,
            self._policy,
            lambda i, cert, issuer: self.status(
                cert, issuer, now=now, stapled=stapled_ocsp if i == 0 else None
            ),
        )

    def status(
        self,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        *,
        now: dt.datetime,
        stapled: bytes | None = None,
    ) -> RevocationStatus:
        """Return the status of ``cert`` from a stapled, cached or fetched response.

        Data that cannot be parsed gives a status whose ``problem`` says so; only
        configuration mistakes raise.
        """
        try:
            return self._status(cert, issuer, now, stapled)
        except _LAZY_ERRORS as exc:
            return RevocationStatus(problem=f"OCSP data cannot be parsed ({type(exc).__name__})")

    def _status(
        self,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        now: dt.datetime,
        stapled: bytes | None,
    ) -> RevocationStatus:
        problem = "no OCSP response"
        if stapled is not None:
            status = self.verify_response(stapled, cert, issuer, now=now)
            if status.problem is None:
                return status
            problem = f"stapled response unusable: {status.problem}"
        cache_key = (_spki_hash(issuer), serial_of(cert))
        cached = self._cache.get(cache_key)
        if cached is not None and now <= cached[0]:
            return cached[1]
        if self._fetch is None:
            return RevocationStatus(problem=problem)
        urls = _http_urls(cert, x509.AuthorityInformationAccess)
        if not urls:
            return RevocationStatus(problem="no stapled response and no OCSP responder URL")
        for url in urls:
            until = self._failures.blocked_until(url, now) or self._failures.blocked_until(
                (url, cache_key), now
            )
            if until is not None:
                problem = f"OCSP {_recently_failed(until)}"
                continue
            nonce = os.urandom(_OCSP_NONCE_BYTES) if self._nonce else None
            request = build_ocsp_request(cert, issuer, nonce=nonce)
            try:
                der = self._fetch(url, request)
            except FetchError as exc:
                self._failures.failed(url, now)
                problem = f"OCSP fetch failed: {exc.detail}"
                continue
            self._failures.succeeded(url)
            status = self.verify_response(der, cert, issuer, now=now, nonce=nonce)
            if status.problem is None:
                self._failures.succeeded((url, cache_key))
                return status
            self._failures.failed((url, cache_key), now)
            problem = status.problem
        return RevocationStatus(problem=problem)

    def verify_response(
        self,
        der: bytes,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        *,
        now: dt.datetime,
        nonce: bytes | None = None,
    ) -> RevocationStatus:
        """Verify an OCSP response for ``cert`` and return the status it gives.

        A response that cannot be used, including one whose parts cannot be parsed, gives a
        status whose ``problem`` says why; nothing else is raised.
        """
        try:
            return self._verify_response(der, cert, issuer, now=now, nonce=nonce)
        except _LAZY_ERRORS as exc:
            # cryptography parses parts of a response lazily; any part may fail on access.
            return RevocationStatus(
                problem=f"OCSP response cannot be parsed ({type(exc).__name__})"
            )

    def _verify_response(  # noqa: C901, PLR0911, PLR0912 - one check per RFC 6960 rule
        self,
        der: bytes,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        *,
        now: dt.datetime,
        nonce: bytes | None,
    ) -> RevocationStatus:
        try:
            resp = ocsp.load_der_ocsp_response(der)
        except _LAZY_ERRORS:
            return RevocationStatus(problem="OCSP response cannot be parsed")
        if resp.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
            return RevocationStatus(problem=f"OCSP responder answered {resp.response_status.name}")
        try:
            exts = list(resp.extensions)
            singles = list(resp.responses)
        except _LAZY_ERRORS:
            return RevocationStatus(problem="OCSP response cannot be parsed")
        for ext in exts:
            if ext.critical and not isinstance(ext.value, x509.OCSPNonce):
                return RevocationStatus(
                    problem="OCSP response has an unsupported critical extension"
                )
        if nonce is not None:
            echoed = next(
                (e.value.nonce for e in exts if isinstance(e.value, x509.OCSPNonce)), None
            )
            if echoed is None or not bytes_eq(echoed, nonce):
                return RevocationStatus(problem="OCSP response does not echo the nonce")
        responder = _responder_id(resp)
        if responder is None:
            return RevocationStatus(problem="OCSP responder id cannot be parsed")
        signer = _ocsp_signer(resp, responder, issuer, now)
        if signer is None:
            return RevocationStatus(
                problem="OCSP response is not signed by the issuer or its responder"
            )
        if not _verify_signature(signer, resp):
            return RevocationStatus(problem="OCSP response signature does not verify")
        single = self._match(singles, cert, issuer)
        if isinstance(single, str):
            return RevocationStatus(problem=single)
        if single.this_update_utc > now + self._leeway:
            return RevocationStatus(problem="OCSP response thisUpdate is in the future")
        expires = single.next_update_utc or single.this_update_utc + self._max_age
        if now > expires + self._leeway:
            return RevocationStatus(problem="OCSP response is stale")
        state = single.certificate_status
        if state is ocsp.OCSPCertStatus.UNKNOWN:
            return RevocationStatus(problem="OCSP responder does not know the certificate")
        if state is ocsp.OCSPCertStatus.REVOKED:
            status = RevocationStatus(
                revoked=True,
                reason=_reason_name(single.revocation_reason),
                date=single.revocation_time_utc,
            )
        else:
            status = RevocationStatus()
        self._remember(_spki_hash(issuer), serial_of(cert), expires + self._leeway, status, now)
        return status

    def _remember(
        self,
        spki: bytes,
        serial: int,
        until: dt.datetime,
        status: RevocationStatus,
        now: dt.datetime,
    ) -> None:
        """Cache a usable answer until ``until``, within the bound (expired, then oldest, out)."""
        with self._lock:
            cache = self._cache
            cache.pop((spki, serial), None)
            if len(cache) >= _MAX_OCSP_ANSWERS:
                for key in [k for k, (expiry, _) in cache.items() if expiry < now]:
                    del cache[key]
            while len(cache) >= _MAX_OCSP_ANSWERS:
                del cache[next(iter(cache))]
            cache[(spki, serial)] = (until, status)

    @staticmethod
    def _match(
        singles: list[ocsp.OCSPSingleResponse], cert: x509.Certificate, issuer: x509.Certificate
    ) -> ocsp.OCSPSingleResponse | str:
        """The SingleResponse whose CertID names ``cert``, or why there is none."""
        problem = "OCSP response has no answer for this certificate"
        serial = serial_of(cert)
        for single in singles:
            try:
                if single.serial_number != serial:
                    continue
                algorithm = single.hash_algorithm
            except _CryptoUnsupported:
                problem = "OCSP response uses an unsupported CertID hash algorithm"
                continue
            except _LAZY_ERRORS:
                continue
            try:
                expected = (
                    ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, algorithm).build()
                )
            except _LAZY_ERRORS:
                problem = "OCSP response uses an unsupported CertID hash algorithm"
                continue
            if bytes_eq(single.issuer_name_hash, expected.issuer_name_hash) and bytes_eq(
                single.issuer_key_hash, expected.issuer_key_hash
            ):
                return single
        return problem


# ------------------------------------------------------------------------------------ fetchers

CRL_CONTENT_TYPES: Final = frozenset(
    {
        "application/pkix-crl",  # RFC 5280 section 4.2.1.13
        "application/x-pkcs7-crl",  # the common legacy label
        "application/octet-stream",
    }
)
OCSP_CONTENT_TYPES: Final = frozenset({"application/ocsp-response"})  # RFC 6960 appendix A.1
_OCSP_GET_LIMIT: Final = 255  # RFC 5019 section 5: GET when the encoded request is shorter


def _fetch_options(
    *,
    timeout: float,
    max_bytes: int,
    allow_http: bool,
    allow_http_loopback: bool,
    ssl_context: ssl.SSLContext | None,
) -> _fetch.FetchOptions:
    return _fetch.FetchOptions(
        timeout=timeout,
        max_bytes=max_bytes,
        allow_http=allow_http,
        allow_http_loopback=allow_http_loopback,
        ssl_context=ssl_context,
    )


def _checked(options: _fetch.FetchOptions, url: str) -> None:
    """Refuse a URL the options do not allow as a fetch failure (it comes from a certificate)."""
    try:
        options.check(url)
    except ConfigurationError as exc:
        plain = split_url(url).scheme.lower() == "http"
        if plain and not options.allow_http and not options.allow_http_loopback:
            raise FetchError(
                "plain http refused (pass allow_http=True to the fetcher to accept it)"
            ) from None
        raise FetchError(exc.detail) from None


def urllib_crl_fetcher(
    *,
    timeout: float = 5.0,
    max_bytes: int = 4 << 20,
    allow_http: bool = False,
    allow_http_loopback: bool = False,
    ssl_context: ssl.SSLContext | None = None,
) -> CRLFetcher:
    """Return a standard-library CRL fetcher over authcore's one guarded fetch path.

    It GETs the distribution point with the rules of :func:`authcore.jose.jwks.urllib_fetcher`:
    https with certificate verification, at most three same-origin redirects, ``timeout`` for
    the whole transfer, status 200 with a CRL media type (``application/pkix-crl``,
    ``application/x-pkcs7-crl`` or ``application/octet-stream``), identity encoding, at most
    ``max_bytes``, and no proxy for loopback addresses.  A URL that breaks a rule is a
    :class:`~authcore.errors.FetchError` (distribution points come from certificates).

    Args:
        timeout: Seconds allowed for connecting, for each read, and for the whole transfer.
        max_bytes: The largest accepted CRL.
        allow_http: Also fetch ``http://`` distribution points, to any host.  CRLs are signed,
            so plain http cannot forge one, but anyone on the path sees which CA is checked and
            can withhold or replay an older CRL (within its validity).  Public CAs publish CRLs
            over http only.
        allow_http_loopback: Also fetch ``http://`` URLs of loopback addresses (tests).
        ssl_context: The TLS client context (for example trusting a private CA).

    Raises:
        ConfigurationError: If an option is refused.

    .. versionadded:: 0.1.0

    .. versionchanged:: 0.1.0
       https only unless ``allow_http``; same-origin redirects, a whole-transfer deadline and
       a media type check, as for JWKS.
    """
    options = _fetch_options(
        timeout=timeout,
        max_bytes=max_bytes,
        allow_http=allow_http,
        allow_http_loopback=allow_http_loopback,
        ssl_context=ssl_context,
    )

    def fetch(url: str, /) -> bytes:
        _checked(options, url)
        return _fetch.require(url, options=options, accept=CRL_CONTENT_TYPES, what="CRL")

    return fetch


def urllib_ocsp_fetcher(
    *,
    timeout: float = 5.0,
    max_bytes: int = 64 << 10,
    allow_http: bool = False,
    allow_http_loopback: bool = False,
    ssl_context: ssl.SSLContext | None = None,
    use_get: bool = False,
) -> OCSPFetcher:
    """Return a standard-library OCSP fetcher over authcore's one guarded fetch path.

    It POSTs the DER request as ``application/ocsp-request`` (RFC 6960 appendix A.1), or, with
    ``use_get``, GETs the base64 request appended to the responder URL when it encodes to
    fewer than 255 bytes (RFC 5019 section 5, cache-friendly).  The transport rules are those
    of :func:`urllib_crl_fetcher`, with ``application/ocsp-response`` as the only accepted
    media type; a redirect of a POST is refused.

    Args:
        timeout: Seconds allowed for connecting, for each read, and for the whole transfer.
        max_bytes: The largest accepted response.
        allow_http: Also query ``http://`` responders, to any host (OCSP responses are signed;
            most public responders speak plain http only).
        allow_http_loopback: Also query ``http://`` responders on loopback addresses (tests).
        ssl_context: The TLS client context (for example trusting a private CA).
        use_get: Send short requests with GET instead of POST.

    Raises:
        ConfigurationError: If an option is refused.

    .. versionadded:: 0.1.0

    .. versionchanged:: 0.1.0
       https only unless ``allow_http``; media type check, whole-transfer deadline,
       same-origin redirects; ``use_get``.
    """
    options = _fetch_options(
        timeout=timeout,
        max_bytes=max_bytes,
        allow_http=allow_http,
        allow_http_loopback=allow_http_loopback,
        ssl_context=ssl_context,
    )

    def fetch(url: str, request: bytes, /) -> bytes:
        _checked(options, url)
        if use_get:
            encoded = urllib.parse.quote(base64.b64encode(request).decode("ascii"), safe="")
            if len(encoded) < _OCSP_GET_LIMIT:
                target = url if url.endswith("/") else url + "/"
                return _fetch.require(
                    target + encoded, options=options, accept=OCSP_CONTENT_TYPES, what="OCSP"
                )
        return _fetch.require(
            url,
            options=options,
            accept=OCSP_CONTENT_TYPES,
            what="OCSP",
            data=request,
            data_type="application/ocsp-request",
        )

    return fetch
