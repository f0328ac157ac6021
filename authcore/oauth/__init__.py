"""OAuth 2.x authorization server (issue 14): lifecycles and PKCE first.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from authcore.oauth import lifecycle, pkce

__all__ = ["lifecycle", "pkce"]
