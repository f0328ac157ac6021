"""Type-checked, never run: the public API as users write it (service-identity's mypy-api).

mypy --strict checks this file with the rest of tests/; a signature change that breaks
ordinary use shows up here as a type error.
"""

from __future__ import annotations

import datetime as dt

from authcore import AuthcoreError, ConfigurationError, VerificationError
from authcore.clock import Clock, FixedClock, SystemClock
from authcore.errors import InsufficientScope, RateLimited
from authcore.http import Authorization, BasicCredentials, Request, Response, parse_basic


def handle(request: Request, clock: Clock) -> Response:
    """An endpoint that authenticates with Basic and answers in JSON."""
    now: dt.datetime = clock.now()
    auth: Authorization | None = request.authorization()
    if auth is None or auth.scheme != "basic":
        return Response(status=401, headers={"WWW-Authenticate": 'Basic realm="api"'})
    try:
        creds: BasicCredentials = parse_basic(auth.credentials)
    except VerificationError as exc:
        return Response.json(400, {"error": exc.code, "at": now.isoformat()})
    return Response.json(200, {"user": creds.username})


def errors_carry_data(exc: AuthcoreError) -> float:
    """Typed attributes on the errors that carry data."""
    if isinstance(exc, RateLimited):
        return exc.retry_after
    if isinstance(exc, InsufficientScope):
        return float(len(exc.missing))
    if isinstance(exc, ConfigurationError):
        return float(len(exc.errors))
    return 0.0


clocks: list[Clock] = [SystemClock(), FixedClock(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))]
