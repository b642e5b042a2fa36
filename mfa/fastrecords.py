"""Cheap construction of frozen, slotted records on the engine's hot path.

The domain records are frozen dataclasses, so their generated ``__init__`` stores every field
through ``object.__setattr__`` (to get past the frozen guard) — several times the cost of a
plain store. One authentication builds about eight records of up to twenty fields, which
made record construction the largest single cost of a begin+verify pair.

``builder(cls)`` returns a constructor that fills the fields of a *twin*: a plain class with
the same ``__slots__`` and no frozen guard, whose stores are the interpreter's fastest
attribute stores. The finished object then takes ``cls`` as its class — a documented Python
operation, allowed only between classes of the same memory layout (same base, same slots),
which the twin has by construction and which Python checks on every assignment. The result
is the very object the ordinary constructor makes (same type, equal, same hash, frozen) at
about a third of the descriptor-by-descriptor cost and a fifth of the ``__init__``'s.

Only for dataclasses without ``__post_init__`` (nothing is validated) and only where the
caller passes every field, which the generated signature enforces.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar

__all__ = ["builder"]

T = TypeVar("T")


def builder(cls: type[T]) -> Callable[..., T]:
    """A constructor of ``cls`` taking every field, by position or keyword, in field order."""
    if not is_dataclass(cls) or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__} is not a slotted dataclass")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} validates in __post_init__; build it normally")
    names = [f.name for f in fields(cls)]
    twin = type(f"_{cls.__name__}Twin", cls.__bases__, {"__slots__": cls.__dict__["__slots__"]})
    namespace: dict[str, Any] = {"_twin": twin, "_cls": cls}
    body = "".join(f"    obj.{name} = {name}\n" for name in names)
    # ``_twin()`` (object's own __new__ and __init__, no arguments) allocates a fifth faster
    # than ``object.__new__(_twin)``, which goes through a checking wrapper
    source = (
        f"def build({', '.join(names)}):\n    obj = _twin()\n{body}"
        "    obj.__class__ = _cls\n    return obj\n"
    )
    exec(source, namespace)  # the technique dataclasses itself uses for __init__
    build = namespace["build"]
    build.__qualname__ = f"builder({cls.__name__})"
    build.__doc__ = f"Build a {cls.__name__} from all of its fields (see mfa.fastrecords)."
    # the first build proves the layouts match (Python raises TypeError if they do not)
    build(*[None] * len(names))
    return build  # type: ignore[no-any-return]
