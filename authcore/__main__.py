"""``python -m authcore``: the same as the ``authcore`` command."""

from __future__ import annotations

import sys

from authcore.cli import main

if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess
    sys.exit(main())
