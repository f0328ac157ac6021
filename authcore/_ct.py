"""Constant-time comparison: the only place secrets, digests and MACs are compared.

A test greps the package for ``==``/``!=`` applied to names that hold digests, MACs, signatures
or secrets, so a new comparison cannot slip past this helper.
"""

from __future__ import annotations

import hmac

__all__ = ["bytes_eq", "known_bytes_eq"]


def bytes_eq(a: bytes, b: bytes) -> bool:
    """Compare two byte strings in time that depends only on their lengths.

    Args:
        a: A byte string (a secret, digest or MAC).
        b: The byte string to compare it with.

    Returns:
        ``True`` when they are equal.

    Raises:
        TypeError: If either argument is not ``bytes`` (a programming error, never peer input).
    """
    # Typed callers cannot get here; untyped ones (str, bytearray) must not silently pass.
    if type(a) is not bytes or type(b) is not bytes:
        raise TypeError("bytes_eq compares bytes only")
    return hmac.compare_digest(a, b)


#: :func:`hmac.compare_digest` itself, for hot paths whose two operands are ``bytes`` by
#: construction (the output of ``str.encode`` or ``binascii.b2a_base64`` and a MAC): the type
#: checks of :func:`bytes_eq` would only re-prove what the line above the call made, at about
#: 70 ns a call.  Anything that may be another type goes through :func:`bytes_eq`.
known_bytes_eq = hmac.compare_digest
