"""Chain verification over ``cryptography.x509.verification``, plus authcore's stricter policy.

Path building, signatures, name constraints, basic constraints and the CA/B-style extension
rules are cryptography's (RFC 5280 section 6 as profiled by its web-PKI policy); this module
never builds paths itself.  On top of that it adds, after a path was found:

* validity of every chain certificate at the caller's exact ``now`` (cryptography fixes its
  time when a verifier is built; verifiers are cached per time window, see :class:`TrustStore`);
* leaf (and chain) key strength: RSA of at least 2048 bits and a multiple of 8, EC only on
  P-256/P-384/P-521, no DSA;
* the leaf must carry an extendedKeyUsage with ``clientAuth`` (client) or ``serverAuth``
  (server) -- ``anyExtendedKeyUsage`` alone or no EKU is refused unless ``require_eku=False``;
* positive serial numbers (RFC 5280 section 4.1.2.2) on every chain certificate;
* nameConstraints and policyConstraints must be critical (RFC 5280 sections 4.2.1.10, 4.2.1.11);
* X.509-SVID rules (SPIFFE X509-SVID section 4) when the leaf is verified against a SPIFFE
  trust bundle;
* revocation through a :class:`~authcore.mtls.RevocationChecker` (CRL, OCSP).

One relaxation, argued from RFC 5280 section 6.1.1(d) (a trust anchor is an input, not a
certificate whose extensions are processed): a **trust anchor** without keyUsage is accepted.
Intermediates still need keyUsage with keyCertSign, as cryptography requires.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Final, Protocol, TypeAlias, cast

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from authcore._ct import bytes_eq
from authcore._fork import lock as fork_safe_lock
from authcore._frozen import frozen_builder
from authcore._options import bool_option, int_option
from authcore.clock import Instant, as_datetime
from authcore.errors import (
    CertificateError,
    CertificateExpired,
    ConfigurationError,
    MalformedCertificate,
    NameMismatch,
    PolicyViolation,
    UntrustedCertificate,
    WrongUsage,
)
from authcore.mtls._identity import ClientIdentity, ServerIdentity, SpiffeId, names_of, thumbprint
from authcore.mtls._load import (
    MAX_CHAIN_LENGTH,
    ChainInput,
    load_bundle,
    load_chain,
    read_file,
    serial_of,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cryptography.x509.verification import ClientVerifier, Policy, ServerVerifier

__all__ = ["RevocationChecker", "TrustStore", "verify_client", "verify_server"]

_DEFAULT_WINDOW: Final = dt.timedelta(seconds=60)
_CACHE_SIZE: Final = 64
_POLICY_CACHE_SIZE: Final = 1024
_ALLOWED_CURVES: Final = frozenset({"secp256r1", "secp384r1", "secp521r1"})
_MIN_RSA_BITS: Final = 2048
_MAX_DEPTH: Final = 255
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_MICROSECOND: Final = dt.timedelta(microseconds=1)
_SECOND: Final = dt.timedelta(seconds=1)
_LAST: Final = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
_IDENTITY_CACHE_SIZE: Final = 256


class RevocationChecker(Protocol):
    """Anything that checks the revocation status of a verified chain.

    :class:`~authcore.mtls.CRLChecker` and :class:`~authcore.mtls.OCSPChecker` implement it.

    .. versionadded:: 0.1.0
    """

    def check(
        self,
        chain: Sequence[x509.Certificate],
        *,
        now: dt.datetime,
        stapled_ocsp: bytes | None = None,
    ) -> None:
        """Raise if a certificate of ``chain`` (leaf first, anchor last) is revoked.

        Raises:
            RevokedCertificate: If a certificate is revoked.
            RevocationUnknown: If the status is unknown and the policy is hard-fail.
        """
        ...


_READ_BYTES: Final = "pathlib.Path(path).read_bytes()"


def _as_certs(
    data: ChainInput | Iterable[x509.Certificate], what: str, loader: str = _READ_BYTES
) -> tuple[x509.Certificate, ...]:
    """Load anchors or pinned leaves: no chain-length cap (a CA bundle holds hundreds).

    A path (``os.PathLike``, or text that is not PEM) is refused naming ``loader``.
    """
    items: list[object]
    if isinstance(data, (x509.Certificate, bytes, bytearray, memoryview, str, os.PathLike)):
        items = [data]
    elif isinstance(data, Iterable):
        items = list(cast("Iterable[object]", data))
    else:
        raise ConfigurationError(f"{what} has unsupported type {type(data).__name__}")
    try:
        return tuple(cert for item in items for cert in load_bundle(item, what, loader))
    except MalformedCertificate as exc:
        raise ConfigurationError(exc.reason) from None


def _lacks_key_usage(cert: x509.Certificate) -> bool:
    try:
        cert.extensions.get_extension_for_class(x509.KeyUsage)
    except x509.ExtensionNotFound:
        return True
    except (ValueError, TypeError):
        return False  # unparseable: leave it to cryptography's default policy
    return False


_LeafFields: TypeAlias = tuple[
    x509.Name,
    tuple[str, ...],
    tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...],
    tuple[str, ...],
    tuple[str, ...],
    str,
]


class _Facts:
    """What a trust store learned about one certificate: all of it time-independent.

    Attributes:
        cert: The certificate (one object with this DER).
        lo, hi: Valid at ``t`` (one-second granularity, RFC 5280 4.1.2.5) exactly when
            ``lo <= t < hi``: ``lo`` is notBefore rounded up to the second, ``hi`` the second
            after notAfter's.
        passed: Whether the time-independent checks of :func:`_check_chain` passed with the
            certificate below the end of a chain (index 0) and at its end (index 1).
        usages: The extendedKeyUsage labels (``"clientAuth"``...) a leaf check passed with.
        fields: The identity fields of the certificate as a leaf, once extracted: subject,
            SAN DNS names, IP addresses, URIs, emails, and the RFC 8705 thumbprint.
    """

    __slots__ = ("cert", "fields", "hi", "lo", "passed", "usages")

    def __init__(self, cert: x509.Certificate) -> None:
        self.cert = cert
        before, after = cert.not_valid_before_utc, cert.not_valid_after_utc
        # Where these overflow (the last second of year 9999, RFC 5280's "no expiry" date),
        # the bound is the largest datetime: the comparison then only errs towards the exact
        # check (_valid), never towards accepting.
        try:
            self.lo = before.replace(microsecond=0) + _SECOND if before.microsecond else before
        except OverflowError:
            self.lo = _LAST
        try:
            self.hi = after.replace(microsecond=0) + _SECOND
        except OverflowError:
            self.hi = _LAST
        self.passed = [False, False]
        self.usages: set[str] = set()
        self.fields: _LeafFields | None = None


class TrustStore:
    """Trust anchors, pinned leaf certificates and SPIFFE trust bundles, with verifier caching.

    ``cryptography`` fixes the validation time when a verifier is built.  A trust store keeps
    built verifiers per (kind, server name, options, time window): a verifier is built for the
    start of the window that holds the call's ``now``, and the chain found is then re-checked
    against the exact ``now``; when that differs from the window start, a failure about validity
    time is retried with a verifier built for the exact ``now``, so results are exactly those of
    a verifier built at ``now``.  Set ``time_window`` to zero to build per distinct ``now``.

    Args:
        anchors: Trust anchors (certificate objects, PEM or DER).
        pinned: Leaf certificates trusted as they are, matched by their SHA-256 fingerprint
            (self-signed service certificates); their validity, key and EKU are still checked,
            revocation is not (a pinned leaf has no issuer to ask: unpin it to revoke it).
        spiffe_bundles: Trust domain name to that domain's X.509 bundle.  Leaves carrying a
            ``spiffe://`` URI are verified as X.509-SVIDs against their own domain's bundle only.
        time_window: The verifier cache's time granularity (default 60 seconds).

    Raises:
        ConfigurationError: If an input cannot be parsed, a trust domain name is invalid, or
            the store would be empty.

    .. versionadded:: 0.1.0
    """

    __slots__ = (
        "_anchor_set",
        "_anchors",
        "_by_der",
        "_by_id",
        "_ca_policy",
        "_cache",
        "_current_window",
        "_lock",
        "_pinned",
        "_pinned_fps",
        "_spiffe",
        "_stores",
        "_window",
    )

    def __init__(
        self,
        anchors: ChainInput | Iterable[x509.Certificate] = (),
        *,
        pinned: ChainInput | Iterable[x509.Certificate] = (),
        spiffe_bundles: Mapping[str, ChainInput | Iterable[x509.Certificate]] | None = None,
        time_window: dt.timedelta = _DEFAULT_WINDOW,
    ) -> None:
        if not isinstance(cast("object", time_window), dt.timedelta) or time_window < dt.timedelta(
            0
        ):
            raise ConfigurationError("time_window must be a non-negative timedelta")
        self._window = time_window
        self._anchors = _as_certs(anchors, "anchors", "TrustStore.from_file(path)")
        self._pinned = _as_certs(pinned, "pinned")
        self._pinned_fps = tuple(c.fingerprint(hashes.SHA256()) for c in self._pinned)
        if spiffe_bundles is not None and not isinstance(spiffe_bundles, Mapping):
            raise ConfigurationError("spiffe_bundles must map trust domain names to bundles")
        spiffe: dict[str, tuple[x509.Certificate, ...]] = {}
        for domain, bundle in (spiffe_bundles or {}).items():
            try:
                parsed = SpiffeId.parse(f"spiffe://{domain}")
            except NameMismatch as exc:
                raise ConfigurationError(f"invalid SPIFFE trust domain: {exc.reason}") from None
            certs = _as_certs(bundle, f"bundle of {domain}")
            if not certs:
                raise ConfigurationError(f"bundle of trust domain {domain} is empty")
            spiffe[parsed.trust_domain] = certs
        self._spiffe = spiffe
        if not (self._anchors or self._pinned or self._spiffe):
            raise ConfigurationError("a trust store needs anchors, pinned leaves or bundles")
        self._stores: dict[str, Store] = {}
        if self._anchors:
            self._stores[""] = Store(list(self._anchors))
        for domain, certs in spiffe.items():
            self._stores[domain] = Store(list(certs))
        self._anchor_set = frozenset(self._anchors).union(*spiffe.values())
        # The relaxed CA policy costs a Python callback per CA certificate: use it only when
        # an anchor actually lacks keyUsage.  Otherwise cryptography's default is equivalent.
        self._ca_policy: ExtensionPolicy | None = None
        if any(_lacks_key_usage(c) for c in self._anchor_set):
            self._ca_policy = ExtensionPolicy.webpki_defaults_ca().may_be_present(
                x509.KeyUsage, Criticality.AGNOSTIC, self._validate_ca_key_usage
            )
        self._cache: dict[tuple[object, ...], ServerVerifier | ClientVerifier] = {}
        self._lock = fork_safe_lock()
        # What this store learned about each certificate (see _Facts), found by the object's
        # identity (an id lookup, then `is`: the entry holds the object, so its id cannot be
        # reused while the entry lives) and else by equality (the same DER in another
        # object: hashing a certificate costs about a microsecond).  Both bounded.
        self._by_id: dict[int, tuple[x509.Certificate, _Facts]] = {}
        self._by_der: dict[x509.Certificate, _Facts] = {}
        # The time window that holds the last call's time: (start, end).
        self._current_window = (_EPOCH, _EPOCH)

    @classmethod
    def from_pem(
        cls,
        data: str | bytes,
        *,
        pinned: ChainInput | Iterable[x509.Certificate] = (),
        spiffe_bundles: Mapping[str, ChainInput | Iterable[x509.Certificate]] | None = None,
        time_window: dt.timedelta = _DEFAULT_WINDOW,
    ) -> TrustStore:
        """Build a store from a PEM bundle of anchors (options as for the constructor).

        Raises:
            ConfigurationError: If the bundle holds no parseable certificate.
        """
        return cls(
            _as_certs(data, "trust bundle", "TrustStore.from_file(path)"),
            pinned=pinned,
            spiffe_bundles=spiffe_bundles,
            time_window=time_window,
        )

    @classmethod
    def from_der(
        cls,
        data: bytes,
        *,
        pinned: ChainInput | Iterable[x509.Certificate] = (),
        spiffe_bundles: Mapping[str, ChainInput | Iterable[x509.Certificate]] | None = None,
        time_window: dt.timedelta = _DEFAULT_WINDOW,
    ) -> TrustStore:
        """Build a store from one DER anchor (options as for the constructor).

        Raises:
            ConfigurationError: If the data is not a DER certificate.
        """
        return cls(
            _as_certs(data, "trust anchor", "TrustStore.from_file(path)"),
            pinned=pinned,
            spiffe_bundles=spiffe_bundles,
            time_window=time_window,
        )

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        pinned: ChainInput | Iterable[x509.Certificate] = (),
        spiffe_bundles: Mapping[str, ChainInput | Iterable[x509.Certificate]] | None = None,
        time_window: dt.timedelta = _DEFAULT_WINDOW,
    ) -> TrustStore:
        """Build a store from a file of anchors: a PEM bundle or one DER certificate.

        This is what to use for a CA bundle on disk (``/etc/ssl/certs/ca-certificates.crt``, a
        ``ca.pem`` from your PKI); the constructor and :meth:`from_pem` take contents, never
        file names.  Options as for the constructor.

        Args:
            path: The file name (``str`` or ``os.PathLike``).
            pinned: Pinned leaves (contents, as for the constructor).
            spiffe_bundles: SPIFFE trust bundles (contents, as for the constructor).
            time_window: The verifier cache's time granularity.

        Raises:
            ConfigurationError: If the file cannot be read, is larger than 1 MiB, holds no
                parseable certificate, or ``path`` holds PEM data (use :meth:`from_pem`).

        .. versionadded:: 0.1.0
        """
        data = read_file(path, "trust bundle", pem_loader="TrustStore.from_pem(data)")
        anchors = _as_certs(data, f"trust bundle {os.fspath(path)!r}")
        return cls(anchors, pinned=pinned, spiffe_bundles=spiffe_bundles, time_window=time_window)

    @property
    def anchors(self) -> tuple[x509.Certificate, ...]:
        """The plain trust anchors."""
        return self._anchors

    @property
    def pinned(self) -> tuple[x509.Certificate, ...]:
        """The pinned leaf certificates."""
        return self._pinned

    @property
    def trust_domains(self) -> tuple[str, ...]:
        """The SPIFFE trust domains with a bundle, sorted."""
        return tuple(sorted(self._spiffe))

    def _validate_ca_key_usage(
        self, policy: Policy, cert: x509.Certificate, ku: x509.KeyUsage | None
    ) -> None:
        # RFC 5280 6.1.1(d): trust anchors are inputs; only they may omit keyUsage.
        del policy
        if ku is None:
            if cert not in self._anchor_set:
                raise ValueError("CA certificate has no keyUsage")
        elif not ku.key_cert_sign:
            raise ValueError("keyUsage.keyCertSign must be asserted in a CA certificate")

    def _domain_anchors(self, domain: str) -> tuple[x509.Certificate, ...]:
        return self._spiffe[domain] if domain else self._anchors

    def _pinned_match(self, leaf: x509.Certificate) -> bool:
        if not self._pinned_fps:
            return False
        fp = leaf.fingerprint(hashes.SHA256())
        found = False
        for pin in self._pinned_fps:
            found |= bytes_eq(fp, pin)
        return found

    def _verifier(
        self,
        *,
        domain: str,
        server_name: x509.DNSName | x509.IPAddress | None,
        max_depth: int | None,
        at: dt.datetime,
        cache: bool = True,
    ) -> ServerVerifier | ClientVerifier:
        key = (domain, server_name, max_depth, at)
        verifier = self._cache.get(key) if cache else None
        if verifier is not None:
            return verifier
        builder = PolicyBuilder().store(self._stores[domain]).time(at)
        if self._ca_policy is not None:
            builder = builder.extension_policies(
                ca_policy=self._ca_policy, ee_policy=ExtensionPolicy.webpki_defaults_ee()
            )
        if max_depth is not None:
            builder = builder.max_chain_depth(max_depth)
        built: ServerVerifier | ClientVerifier
        if server_name is None:
            built = builder.build_client_verifier()
        else:
            try:
                built = builder.build_server_verifier(server_name)
            except (ValueError, TypeError):
                raise ConfigurationError("server_name is not a valid DNS name") from None
        if not cache:
            return built
        with self._lock:
            while len(self._cache) >= _CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = built
        return built

    def _window_start(self, now: dt.datetime) -> dt.datetime:
        start, end = self._current_window
        if start <= now < end:  # the usual case: the same window as the last call
            return start
        if not self._window:
            return now
        window_us = self._window // _MICROSECOND
        offset_us = (now - _EPOCH) // _MICROSECOND
        start = _EPOCH + dt.timedelta(microseconds=offset_us - offset_us % window_us)
        self._current_window = (start, start + self._window)
        return start

    def _facts(self, cert: x509.Certificate) -> _Facts:
        """What this store knows about ``cert`` (a parsed certificate), learned once."""
        hit = self._by_id.get(id(cert))
        if hit is not None and hit[0] is cert:
            return hit[1]
        facts = self._by_der.get(cert)
        if facts is None:
            facts = _Facts(cert)
            if len(self._by_der) >= _POLICY_CACHE_SIZE:
                self._by_der.clear()
            self._by_der[cert] = facts
        if len(self._by_id) >= _IDENTITY_CACHE_SIZE:
            self._by_id.clear()
        self._by_id[id(cert)] = (cert, facts)
        return facts

    def _loaded(self, chain: ChainInput) -> tuple[x509.Certificate, ...]:
        """:func:`load_chain`, skipped for certificate objects this store has checked."""
        if type(chain) is list or type(chain) is tuple:
            by_id = self._by_id
            if 0 < len(chain) <= MAX_CHAIN_LENGTH:
                for item in chain:
                    hit = by_id.get(id(item))
                    if hit is None or hit[0] is not item:
                        break
                else:
                    return tuple(chain)
        certs = load_chain(chain)
        if type(chain) is list or type(chain) is tuple:
            for item, cert in zip(chain, certs):  # noqa: B905 - a PEM item may hold several
                if item is cert:  # an object the caller holds (and may pass again): remember it
                    self._facts(cert)
        return certs


# ------------------------------------------------------------------------- error mapping

_MALFORMED_HINTS: Final = ("ASN.1 parsing error", "duplicate extension", "malformed public key")
_TIME_HINT: Final = "not valid at validation time"
_NAME_HINTS: Final = ("no matching subjectAltName",)
_USAGE_HINTS: Final = ("EKU", "keyUsage", "2.5.29.15:", "2.5.29.37:")
_POLICY_HINTS: Final = (
    "name constraint",
    "max depth",
    "path length",
    "Forbidden",
    "basicConstraints",
    "invalid extension",
    "Exceeded maximum",
    "missing required extension",
    "subjectAltName MUST",
    "serial",
    "Issuer",
    "validator failed",
)


def _clean(message: str) -> str:
    text = message.removeprefix("validation failed: ")
    cut = text.find(" (encountered processing")
    if cut >= 0:
        text = text[:cut]
    return text[:300]


def _missing_issuer(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
) -> str | None:
    """Name the first issuer the chain lacks, following issuer names up from the leaf.

    Returns ``None`` when every issuer name is present (then the failure is something else:
    a signature, a constraint), else a reason naming the certificate whose issuer is missing.
    Only names are followed: this explains a failure, it never decides one.
    """
    anchor_names = {cert.subject for cert in anchors}
    current, where = leaf, "leaf"
    unused = dict(enumerate(intermediates, start=1))
    while current.issuer not in anchor_names:
        if current.issuer == current.subject:
            subject = current.subject.rfc4514_string()[:200]
            return f"{where} is self-issued ({subject!r}) and not a trust anchor"
        found = next((i for i, c in unused.items() if c.subject == current.issuer), None)
        if found is None:
            issuer = current.issuer.rfc4514_string()[:200]
            return (
                f"issuer {issuer!r} of {where} is neither in the presented chain nor a trust "
                "anchor (missing intermediate: present the chain leaf first with every "
                "intermediate)"
            )
        current, where = unused.pop(found), f"chain[{found}]"
    return None


def _map_error(exc: VerificationError) -> CertificateError:
    """Translate cryptography's message into the authcore class that says what failed."""
    text = _clean(str(exc))
    if any(h in text for h in _MALFORMED_HINTS):
        return MalformedCertificate(text)  # type: ignore[return-value]
    if _TIME_HINT in text:
        return CertificateExpired(text)
    if any(h in text for h in _NAME_HINTS):
        return NameMismatch(text)
    if any(h in text for h in _USAGE_HINTS):
        return WrongUsage(text)
    if any(h in text for h in _POLICY_HINTS):
        return PolicyViolation(text)
    return UntrustedCertificate(text)


# ------------------------------------------------------------------------- authcore policy


def _check_key(cert: x509.Certificate, where: str) -> None:
    try:
        key = cert.public_key()
    except (ValueError, TypeError, NotImplementedError):
        raise PolicyViolation(f"{where} public key is unsupported or malformed") from None
    except Exception as exc:  # noqa: BLE001 - cryptography's UnsupportedAlgorithm has no common base
        raise PolicyViolation(f"{where} public key is unsupported ({type(exc).__name__})") from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < _MIN_RSA_BITS:
            raise PolicyViolation(f"{where} RSA key of {key.key_size} bits is below 2048")
        if key.key_size % 8:
            raise PolicyViolation(f"{where} RSA key size {key.key_size} is not a multiple of 8")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in _ALLOWED_CURVES:
            raise PolicyViolation(f"{where} EC key on {key.curve.name} is not allowed")
    elif isinstance(key, dsa.DSAPublicKey):
        raise PolicyViolation(f"{where} DSA key is not allowed")


def _validity(cert: x509.Certificate, now: dt.datetime, where: str) -> None:
    # Validity has one-second granularity (RFC 5280 4.1.2.5): compare within the second, as
    # cryptography does.
    now = now.replace(microsecond=0)
    if now < cert.not_valid_before_utc:
        raise CertificateExpired(
            f"{where} is not valid before {cert.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ}"
        )
    if now > cert.not_valid_after_utc:
        raise CertificateExpired(
            f"{where} expired at {cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}"
        )


def _valid(cert: x509.Certificate, when: dt.datetime) -> bool:
    second = when.replace(microsecond=0)  # one-second granularity (RFC 5280 4.1.2.5)
    return cert.not_valid_before_utc <= second <= cert.not_valid_after_utc


def _all_valid(facts: Iterable[_Facts], at: dt.datetime) -> bool:
    """Whether every certificate of ``facts`` is valid at ``at`` (as :func:`_valid`)."""
    return all(f.lo <= at < f.hi or _valid(f.cert, at) for f in facts)


def _check_chain(
    chain: Sequence[x509.Certificate], facts: Sequence[_Facts], at: dt.datetime
) -> None:
    """Check validity at ``at``, then key strength, serials and constraint criticality.

    The time-independent checks run once per certificate and position (below the end of the
    chain, or at it) and are remembered in its facts; validity is two comparisons.
    """
    last = len(chain) - 1
    for i, known in enumerate(facts):
        if not known.lo <= at < known.hi:  # else decide exactly (and say why)
            _validity(chain[i], at, "leaf" if i == 0 else f"chain[{i}]")
    for i, known in enumerate(facts):
        at_end = i == last
        if known.passed[at_end]:
            continue
        cert = chain[i]
        where = "leaf" if i == 0 else f"chain[{i}]"
        _check_key(cert, where)
        if serial_of(cert) <= 0 and not at_end:  # anchors are inputs (RFC 5280 6.1.1)
            raise PolicyViolation(f"{where} serial number is not positive")
        try:
            extensions = list(cert.extensions)
        except (ValueError, TypeError):
            raise MalformedCertificate(f"{where} extensions cannot be parsed") from None
        for ext in extensions:
            if (
                isinstance(ext.value, (x509.NameConstraints, x509.PolicyConstraints))
                and not ext.critical
            ):
                raise PolicyViolation(f"{where} {ext.oid._name} is not critical")  # noqa: SLF001 - the OID's own name
        known.passed[at_end] = True


def _check_eku(leaf: x509.Certificate, usage: x509.ObjectIdentifier, label: str) -> None:
    try:
        eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        raise WrongUsage(f"leaf has no extendedKeyUsage; {label} is required") from None
    if usage not in eku:
        raise WrongUsage(f"leaf extendedKeyUsage lacks {label}")
    if ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku:
        raise WrongUsage("leaf extendedKeyUsage must not contain anyExtendedKeyUsage")


def _check_key_identifiers(chain: Sequence[x509.Certificate]) -> None:
    """RFC 5280 4.2.1.2: SKI on every CA; 4.2.1.1: keyIdentifier AKI below the anchor."""
    last = len(chain) - 1
    for i, cert in enumerate(chain):
        where = "leaf" if i == 0 else f"chain[{i}]"
        if i > 0:
            try:
                cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            except x509.ExtensionNotFound:
                raise PolicyViolation(f"{where} has no subjectKeyIdentifier") from None
        if i == last or cert.issuer == cert.subject:
            continue  # the anchor (or pinned leaf) is an input, RFC 5280 6.1.1(d); self-issued
        try:
            aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        except x509.ExtensionNotFound:
            aki = None
        if aki is None or aki.key_identifier is None:
            raise PolicyViolation(f"{where} has no authorityKeyIdentifier keyIdentifier")


def _svid(leaf: x509.Certificate) -> SpiffeId:
    """Apply the X.509-SVID leaf rules and return its SPIFFE ID."""
    names = names_of(leaf)
    if len(names.uris) != 1:
        raise PolicyViolation(f"X.509-SVID must have exactly one URI SAN, found {len(names.uris)}")
    spiffe_id = SpiffeId.parse(names.uris[0])
    if not spiffe_id.path:
        raise NameMismatch("X.509-SVID SPIFFE ID must have a non-empty path")
    try:
        bc = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        bc = None
    if bc is not None and bc.ca:
        raise PolicyViolation("X.509-SVID leaf must not be a CA")
    try:
        ku = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        ku = None
    if ku is not None and (ku.key_cert_sign or ku.crl_sign):
        raise WrongUsage("X.509-SVID leaf must not assert keyCertSign or cRLSign")
    return spiffe_id


def _looks_spiffe(leaf: x509.Certificate) -> bool:
    return any(uri[:9].lower() == "spiffe://" for uri in names_of(leaf).uris)


def _server_subject(server_name: str) -> x509.DNSName | x509.IPAddress:
    if not isinstance(cast("object", server_name), str) or not server_name:
        raise ConfigurationError("server_name must be a non-empty DNS name or IP address")
    try:
        return x509.IPAddress(ipaddress.ip_address(server_name))
    except (ValueError, TypeError):
        pass
    try:
        return x509.DNSName(server_name)
    except (ValueError, TypeError):
        raise ConfigurationError("server_name is not a DNS name or IP address") from None


def _verify(  # noqa: C901 - one branch per trust mode and check
    chain: ChainInput,
    *,
    trust: TrustStore,
    server_name: x509.DNSName | x509.IPAddress | None,
    now: Instant | None,
    revocation: RevocationChecker | None,
    max_chain_depth: int | None,
    require_eku: bool,
    require_spiffe: bool,
    require_key_identifiers: bool,
    stapled_ocsp: bytes | None,
) -> tuple[tuple[x509.Certificate, ...], SpiffeId | None, bool]:
    if not isinstance(trust, TrustStore):
        raise ConfigurationError("trust must be a TrustStore")
    if max_chain_depth is not None:
        int_option(max_chain_depth, "max_chain_depth", low=0, high=_MAX_DEPTH)
    if revocation is not None and not callable(getattr(revocation, "check", None)):
        raise ConfigurationError("revocation must be a RevocationChecker (CRLChecker, OCSPChecker)")
    bool_option(require_eku, "require_eku")
    bool_option(require_spiffe, "require_spiffe")
    bool_option(require_key_identifiers, "require_key_identifiers")
    at = as_datetime(now)
    certs = trust._loaded(chain)  # noqa: SLF001
    leaf, intermediates = certs[0], list(certs[1:])
    client = server_name is None
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    label = "clientAuth" if client else "serverAuth"

    spiffe_id: SpiffeId | None = None
    domain = ""
    pinned = trust._pinned_match(leaf)  # noqa: SLF001 - same module
    if pinned:
        verified: tuple[x509.Certificate, ...] = (leaf,)
    else:
        if trust._spiffe and _looks_spiffe(leaf):  # noqa: SLF001
            spiffe_id = _svid(leaf)
            domain = spiffe_id.trust_domain
            if domain not in trust._spiffe:  # noqa: SLF001
                raise UntrustedCertificate(f"no trust bundle for SPIFFE trust domain {domain}")
        elif "" not in trust._stores:  # noqa: SLF001
            raise UntrustedCertificate("leaf is not an X.509-SVID and there are no plain anchors")
        verified = _path(trust, domain, leaf, intermediates, server_name, max_chain_depth, at)
    if require_spiffe and spiffe_id is None:
        raise PolicyViolation("an X.509-SVID verified against a SPIFFE bundle is required")
    facts = [trust._facts(cert) for cert in verified]  # noqa: SLF001
    _check_chain(verified, facts, at)
    if require_key_identifiers:
        _check_key_identifiers(verified)
    if require_eku and label not in facts[0].usages:
        _check_eku(leaf, usage, label)
        facts[0].usages.add(label)
    if revocation is not None and not pinned:
        revocation.check(verified, now=at, stapled_ocsp=stapled_ocsp)
    return verified, spiffe_id, pinned


def _run(
    verifier: ServerVerifier | ClientVerifier, leaf: x509.Certificate, inter: list[x509.Certificate]
) -> tuple[x509.Certificate, ...]:
    try:
        result = verifier.verify(leaf, inter)
    except ValueError:  # lazily parsed certificate data that turned out malformed
        raise MalformedCertificate("a certificate in the chain cannot be parsed") from None
    return tuple(result) if isinstance(result, list) else tuple(result.chain)


def _path(  # noqa: PLR0917 - private helper, called once
    trust: TrustStore,
    domain: str,
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    server_name: x509.DNSName | x509.IPAddress | None,
    max_depth: int | None,
    at: dt.datetime,
) -> tuple[x509.Certificate, ...]:
    start = trust._window_start(at)  # noqa: SLF001
    args = {"domain": domain, "server_name": server_name, "max_depth": max_depth}
    try:
        chain = _run(trust._verifier(**args, at=start), leaf, intermediates)  # type: ignore[arg-type]  # noqa: SLF001
    except VerificationError as exc:
        # Validity is the only input that depends on time: if no candidate certificate
        # changes validity between the window start and `at`, a verifier built at `at`
        # would fail the same way.
        anchors = trust._domain_anchors(domain)  # noqa: SLF001
        candidates = (leaf, *intermediates, *anchors)
        if start == at or all(_valid(c, start) == _valid(c, at) for c in candidates):
            raise _untrusted_or_mapped(exc, leaf, intermediates, anchors) from None
    else:
        # Every certificate of the found path valid at `at`: a verifier built at `at` accepts.
        if start == at or _all_valid(map(trust._facts, chain), at):  # noqa: SLF001
            return chain
    # The window start and the exact time disagree on validity: decide at the exact time,
    # with a verifier that is not cached (rare; caching it would evict the window's).
    try:
        return _run(trust._verifier(**args, at=at, cache=False), leaf, intermediates)  # type: ignore[arg-type]  # noqa: SLF001
    except VerificationError as exc:
        anchors = trust._domain_anchors(domain)  # noqa: SLF001
        raise _untrusted_or_mapped(exc, leaf, intermediates, anchors) from None


def _untrusted_or_mapped(
    exc: VerificationError,
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
) -> CertificateError:
    """Map cryptography's error; "candidates exhausted" says which issuer is missing, if one is.

    When no path can exist by names alone, that is the reason, whatever cryptography's last
    candidate failed on (a self-issued certificate repeated up to the depth limit, say).
    """
    mapped = _map_error(exc)
    if "candidates exhausted" in mapped.reason:
        missing = _missing_issuer(leaf, intermediates, anchors)
        if missing is not None:
            return UntrustedCertificate(missing)
    return mapped


def _identity_fields(trust: TrustStore, leaf: x509.Certificate) -> _LeafFields:
    """The identity fields of ``leaf``: a pure function of its DER, remembered in its facts."""
    facts = trust._facts(leaf)  # noqa: SLF001
    fields = facts.fields
    if fields is None:
        names = names_of(leaf)
        fields = facts.fields = (
            leaf.subject,
            names.dns_names,
            names.ip_addresses,
            names.uris,
            names.emails,
            thumbprint(leaf),
        )
    return fields


# ClientIdentity(...) without its frozen __init__ (eight fields through object.__setattr__,
# more Python than the rest of verify_client; authcore._frozen says how).
_new_client_identity: Final = frozen_builder(ClientIdentity)


def _client_identity(
    chain: tuple[x509.Certificate, ...], spiffe_id: SpiffeId | None, fields: _LeafFields
) -> ClientIdentity:
    subject, dns_names, ip_addresses, uris, emails, thumbprint = fields
    return _new_client_identity(
        chain=chain,
        subject=subject,
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        uris=uris,
        emails=emails,
        thumbprint=thumbprint,
        spiffe_id=spiffe_id,
    )


def verify_client(
    chain: ChainInput,
    *,
    trust: TrustStore,
    now: Instant | None = None,
    revocation: RevocationChecker | None = None,
    max_chain_depth: int | None = None,
    require_eku: bool = True,
    require_spiffe: bool = False,
    require_key_identifiers: bool = False,
) -> ClientIdentity:
    """Verify a TLS client certificate chain and return the client's identity.

    What is checked: a path to an anchor of ``trust`` (cryptography's RFC 5280 / web-PKI
    policy), validity at ``now`` of every chain certificate, the leaf's clientAuth EKU, key
    strength and positive serials on the whole chain, X.509-SVID rules when the leaf carries a
    ``spiffe://`` URI and ``trust`` has SPIFFE bundles, and revocation when ``revocation`` is
    given.  What is **not** checked: which client this is allowed to be -- compare the returned
    identity (``spiffe_id``, ``dns_names``, ``subject``...) with your authorization rules.

    Args:
        chain: Leaf first, then untrusted intermediates: certificate objects, PEM or DER.
        trust: The trust store.
        now: The validation time: an aware datetime or UNIX seconds (as every ``now=`` in
            authcore, see :data:`authcore.clock.Instant`); defaults to the current time.
        revocation: A revocation checker (:class:`CRLChecker`, :class:`OCSPChecker`).
        max_chain_depth: Most intermediates allowed (cryptography's default when ``None``).
        require_eku: Refuse a leaf without an explicit clientAuth EKU (default ``True``).
        require_spiffe: Refuse anything but an X.509-SVID verified against its trust
            domain's bundle.
        require_key_identifiers: Also require RFC 5280's key identifiers, which cryptography
            does not enforce: a subjectKeyIdentifier on every CA certificate of the path
            (anchor included) and an authorityKeyIdentifier with a keyIdentifier on every
            certificate below the anchor that is not self-issued (default ``False``: many
            private CAs omit them).

    Returns:
        The verified identity.

    Raises:
        MalformedCertificate: Unparseable input.
        UntrustedCertificate: No path to an anchor.
        CertificateExpired: A chain certificate is outside its validity at ``now``.
        WrongUsage: Key usage or EKU refused.
        NameMismatch: An invalid SPIFFE ID.
        PolicyViolation: Weak keys, SVID rules, name constraints, depth, extensions.
        RevokedCertificate: Revoked (with reason and date).
        RevocationUnknown: Status unknown under a hard-fail revocation policy.
        ConfigurationError: Bad options.

    .. versionadded:: 0.1.0
    """
    verified, spiffe_id, _ = _verify(
        chain,
        trust=trust,
        server_name=None,
        now=now,
        revocation=revocation,
        max_chain_depth=max_chain_depth,
        require_eku=require_eku,
        require_spiffe=require_spiffe,
        require_key_identifiers=require_key_identifiers,
        stapled_ocsp=None,
    )
    return _client_identity(verified, spiffe_id, _identity_fields(trust, verified[0]))


def verify_server(
    chain: ChainInput,
    *,
    trust: TrustStore,
    server_name: str,
    now: Instant | None = None,
    revocation: RevocationChecker | None = None,
    max_chain_depth: int | None = None,
    require_eku: bool = True,
    stapled_ocsp: bytes | None = None,
    require_key_identifiers: bool = False,
) -> ServerIdentity:
    """Verify a TLS server certificate chain for ``server_name`` and return its identity.

    Checks as :func:`verify_client`, with the serverAuth EKU, plus the name: ``server_name``
    must match a SAN dNSName (wildcards per RFC 6125 as cryptography applies them) or iPAddress.
    The subject common name is never used.

    Args:
        chain: Leaf first, then untrusted intermediates.
        trust: The trust store.
        server_name: The DNS name or IP address that was dialled.
        now: The validation time: an aware datetime or UNIX seconds (as every ``now=`` in
            authcore, see :data:`authcore.clock.Instant`); defaults to the current time.
        revocation: A revocation checker.
        max_chain_depth: Most intermediates allowed.
        require_eku: Refuse a leaf without an explicit serverAuth EKU (default ``True``).
        stapled_ocsp: A stapled OCSP response (DER) handed to ``revocation``.
        require_key_identifiers: As for :func:`verify_client`.

    Returns:
        The verified identity.

    Raises:
        NameMismatch: ``server_name`` is not in the leaf's SAN.
        CertificateError: As for :func:`verify_client`.
        ConfigurationError: ``server_name`` is neither a DNS name nor an IP address.

    .. versionadded:: 0.1.0
    """
    subject = _server_subject(server_name)
    verified, spiffe_id, pinned = _verify(
        chain,
        trust=trust,
        server_name=subject,
        now=now,
        revocation=revocation,
        max_chain_depth=max_chain_depth,
        require_eku=require_eku,
        require_spiffe=False,
        require_key_identifiers=require_key_identifiers,
        stapled_ocsp=stapled_ocsp,
    )
    if pinned:  # no verifier matched the name
        _match_pinned_name(verified[0], subject)
    subject_name, dns_names, ip_addresses, uris, emails, print_ = _identity_fields(
        trust, verified[0]
    )
    return ServerIdentity(
        chain=verified,
        subject=subject_name,
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        uris=uris,
        emails=emails,
        spiffe_id=spiffe_id,
        thumbprint=print_,
        server_name=server_name,
    )


def _match_pinned_name(leaf: x509.Certificate, subject: x509.DNSName | x509.IPAddress) -> None:
    names = names_of(leaf)
    if isinstance(subject, x509.IPAddress):
        if subject.value not in names.ip_addresses:
            raise NameMismatch("pinned leaf has no matching iPAddress SAN")
        return
    wanted = subject.value.lower().rstrip(".")
    if not any(n.lower().rstrip(".") == wanted for n in names.dns_names):
        raise NameMismatch("pinned leaf has no matching dNSName SAN (pinned names match exactly)")
