"""Frozen dataclass results built on hot paths: the one helper for the twin-class trick.

A frozen dataclass's ``__init__`` stores every field through ``object.__setattr__``, one
Python-level call per field; on the fastest verification paths (a webhook, a ``dir`` JWE, a
client certificate) that costs more than the rest of the bookkeeping together.  The twin made
here has exactly the dataclass's bases and own slots, hence the same memory layout (CPython
checks it on every ``__class__`` assignment, and on 3.10 a dataclass repeats its base's slots:
copying ``__slots__`` covers both), but neither its ``__init__`` nor its ``__setattr__``::

    result = _Twin()
    result.field_a = ...   # every field, once
    result.__class__ = TheDataclass

gives an instance that is as complete and as frozen as one made by ``TheDataclass(...)``.
Each caller fills every field; a test per twin compares the result with the dataclass's own
constructor, field by field, so a field added later cannot be left unset.
"""

from __future__ import annotations

__all__ = ["unfrozen_twin"]


def unfrozen_twin(cls: type) -> type:
    """Return a class with ``cls``'s bases and slots whose instances take plain attribute stores.

    Args:
        cls: A dataclass made with ``slots=True`` (typically also ``frozen=True``).

    Raises:
        TypeError: If ``cls`` has no ``__slots__`` of its own (a programming error).
    """
    slots = cls.__dict__.get("__slots__")
    if slots is None:
        raise TypeError(f"{cls.__name__} has no __slots__: nothing to twin")
    return type(
        f"_Unfrozen{cls.__name__}",
        cls.__bases__,
        {
            "__slots__": slots,
            "__module__": cls.__module__,
            # object's own __init__ and __setattr__: a frozen dataclass base would refuse the
            # stores, and a dataclass base's __init__ would want the fields as arguments.
            "__init__": object.__init__,
            "__setattr__": object.__setattr__,
        },
    )
