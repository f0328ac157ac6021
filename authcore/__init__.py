"""authcore: authentication primitives for Python APIs.

API keys, webhook signatures, JOSE (JWS, JWE, JWK, JWT), mTLS and OAuth 2.x, correct by
default.  This module only re-exports the version and the error tree; import the method you
need from its own module (``authcore.jose``, ``authcore.apikeys``, ...).
"""

from __future__ import annotations

from authcore.errors import (
    AuthcoreError,
    ConfigurationError,
    VerificationError,
)

__all__ = ["AuthcoreError", "ConfigurationError", "VerificationError", "__version__"]

__version__ = "0.1.0.dev0"
