"""The JSON form of the benchmark's dataclasses, derived from their fields and type hints.

``dump`` turns a dataclass (and what it holds) into plain JSON values;
``load(cls, data)`` rebuilds it, checking each value against the field's
annotation. It covers what the benchmark stores: dataclasses, enums, ``str``,
``int``, ``float``, ``bool``, ``None``, ``list[X]``, ``tuple[X, ...]``,
``dict[str, X]`` and ``Optional[X]``. Python 3.9 cannot evaluate the hint
``X | None``, so the dataclasses spell it ``Optional[X]``.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from typing import Any, TypeVar, cast

T = TypeVar("T")
# `X | None` is a types.UnionType from Python 3.10 on, a typing.Union before.
_UNIONS = (typing.Union, getattr(types, "UnionType", typing.Union))


def dump(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: dump(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(key): dump(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [dump(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"no JSON form for {type(value).__name__}")


def load(cls: type[T], data: Any) -> T:
    return cast(T, _load(cls, data, cls.__name__))


def _load(hint: Any, data: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in _UNIONS:
        if data is None and type(None) in args:
            return None
        (inner,) = [arg for arg in args if arg is not type(None)]
        return _load(inner, data, where)
    if origin is list:
        return [_load(args[0], item, f"{where}[{i}]") for i, item in enumerate(_is(data, list))]
    if origin is tuple:
        return tuple(
            _load(args[0], item, f"{where}[{i}]") for i, item in enumerate(_is(data, list))
        )
    if origin is dict:
        return {str(k): _load(args[1], v, f"{where}.{k}") for k, v in _is(data, dict).items()}
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        fields = _is(data, dict)
        hints = typing.get_type_hints(hint)
        known = {f.name for f in dataclasses.fields(hint) if f.init}
        return hint(
            **{
                name: _load(hints[name], value, f"{where}.{name}")
                for name, value in fields.items()
                if name in known
            }
        )
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(data)
    if hint is float and isinstance(data, (int, float)) and not isinstance(data, bool):
        return float(data)
    if hint in (str, int, bool) and type(data) is hint:
        return data
    raise ValueError(f"{where}: {data!r} is not a {hint}")


def _is(data: Any, kind: type[T]) -> T:
    if not isinstance(data, kind):
        raise ValueError(f"expected a JSON {kind.__name__}, got {data!r}")
    return data
