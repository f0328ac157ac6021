"""Sync or async: what a caller's store or callback is, and its yes/no answers, checked.

A synchronous caller given an ``async`` object gets coroutines back, and a coroutine is
truthy: an un-awaited ``add`` reads as "not seen before", an un-awaited ``apply`` as "done".
Every option that takes a store or a callback checks its kind when it is given
(:func:`check_kind`, :func:`is_async`, :func:`is_async_callable`), and every yes/no answer
authcore acts on goes through :func:`store_answer`.
"""

from __future__ import annotations

import inspect

from authcore.errors import ConfigurationError, StoreError

__all__ = ["check_kind", "check_wrapped", "is_async", "is_async_callable", "store_answer"]


def is_async(store: object, *methods: str) -> bool:
    """Whether any of ``store``'s ``methods`` is a coroutine function (an ``async`` store)."""
    return any(inspect.iscoroutinefunction(getattr(store, m, None)) for m in methods)


def is_async_callable(function: object) -> bool:
    """Whether calling ``function`` returns a coroutine (``async def``, a partial, ``__call__``)."""
    return inspect.iscoroutinefunction(function) or is_async(function, "__call__")


def check_kind(
    store: object, name: str, methods: tuple[str, ...], *, awaited: bool | None, expected: str
) -> None:
    """Refuse a store that lacks ``methods`` or whose kind (``async`` or not) is not the caller's.

    A synchronous caller given an ``async`` store gets coroutines, which are truthy (an
    ``apply`` reads as done, nothing written); an ``async`` caller given a synchronous one
    cannot await its answers.

    Args:
        store: The option's value.
        name: The option's name, for the message.
        methods: The methods the caller calls.
        awaited: Whether the caller awaits them (then every one must be ``async def``), or
            ``None`` when it takes either kind (and awaits an ``async`` one).
        expected: What to pass instead, for the message (``"authcore.oauth.GrantStore"``).

    Raises:
        ConfigurationError: Naming the option and what it needs.
    """
    missing = [m for m in methods if not callable(getattr(store, m, None))]
    if missing:
        raise ConfigurationError(
            f"{name} must be an {expected} ({', '.join(methods)}): "
            f"{type(store).__name__} lacks {', '.join(missing)}"
        )
    if awaited and not all(inspect.iscoroutinefunction(getattr(store, m)) for m in methods):
        raise ConfigurationError(
            f"{name} must be an {expected}: {type(store).__name__} is synchronous "
            "(wrap it in its Async store, such as AsyncMemoryGrantStore(store))"
        )
    if awaited is False and is_async(store, *methods):
        raise ConfigurationError(
            f"{name} must be an {expected}: {type(store).__name__} is async "
            "(pass the synchronous store it wraps, or use the async server)"
        )


def store_answer(result: object, store: object) -> bool:
    """Return a yes/no answer from a caller's object, which must be a ``bool``.

    Used for every such answer authcore acts on: a one-time store's ``add``/``contains``, a
    grant store's ``apply``, a DPoP nonce source's ``check``.  Anything else (an awaitable
    from an ``async`` object reached a synchronous caller, a number, ``None``) is refused:
    read as a truth value it could accept a replay.

    Raises:
        StoreError: If ``result`` is not a ``bool`` (an un-awaited coroutine is closed).
    """
    if result is True or result is False:
        return result
    if inspect.iscoroutine(result):
        result.close()  # never awaited: close it rather than leave a warning to the collector
    raise StoreError(
        f"{type(store).__name__} answered {type(result).__name__}, not a bool "
        "(an async store needs an async caller)"
    )


def check_wrapped(sync: object, kind: type, face: type) -> None:
    """Refuse what an ``async`` face (``face``) is given to wrap unless it is a ``kind``.

    Raises:
        ConfigurationError: Naming both classes (another object's methods would run in a
            worker thread and hand back whatever they return, a coroutine included).
    """
    if not isinstance(sync, kind):
        raise ConfigurationError(
            f"{face.__name__} wraps a {kind.__name__}, not {type(sync).__name__}: "
            f"pass {face.__name__}({kind.__name__}(...))"
        )
