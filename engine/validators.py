"""Validator types: a request Struct family copied without the hooks that only reshape a built value.

Constructing a `ChatCompletionRequest` by keyword checks nothing, so a typed request is validated by converting
its plain-data form back into the type (`GatewayStruct.validated_builtins`): what `from_dict` does, naming the
field path of a bad value. The Struct built by that conversion is thrown away, yet building it ran each
message's `__post_init__` (wrapping `content`, folding `reasoning_content`, moving `cache_control`): about half
of the conversion's cost, and none of it checks anything.

`validator_type(cls)` is `cls` with every Struct type it refers to copied (`msgspec.defstruct`: the same
fields, types, constraints, defaults, wire names, tags and unknown-field rule), `gc=False` (nothing kept), and
the `__post_init__` of each copy kept unless its class is declared `reshaping_only`. So the conversion accepts and
rejects exactly what converting into `cls` does, with the same messages (msgspec's messages name fields and
JSON paths, never the Struct's class), at about half the cost. A hook that may reject a value (an MCP tool
filter's regex) is kept: a class whose hook only reshapes is listed here on purpose, never by default.
"""

from __future__ import annotations

import threading
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec

RESHAPING_ONLY: set[type] = set()
"""Classes whose `__post_init__` only reshapes the value (content wrappers, an always-encoded `type`) and
never raises: their validator copies go without it (`reshaping_only`, where the class is defined)."""

COPIES: dict[type, type[msgspec.Struct]] = {}
"""The validator copy of each class (what `validator_type` returns; read directly on every request)."""
_BUILDING: set[type] = set()
_LOCK = threading.RLock()


def reshaping_only(*classes: type) -> None:
    """Declare that the `__post_init__` of each of `classes` only reshapes (see `RESHAPING_ONLY`)."""
    with _LOCK:
        RESHAPING_ONLY.update(classes)
        COPIES.clear()


def validator_type(cls: type[msgspec.Struct]) -> type[msgspec.Struct]:
    """The validator copy of the Struct type `cls` (built once per class, under a lock: plans and clients are
    shared between threads)."""
    found = COPIES.get(cls)
    if found is None:
        with _LOCK:
            found = COPIES.get(cls) or _copy(cls)
    return found


def _copy(cls: type[msgspec.Struct]) -> type[msgspec.Struct]:
    if cls in _BUILDING:  # a type that refers to itself: that reference keeps the class (the same checks)
        return cls
    _BUILDING.add(cls)
    try:
        config = cls.__struct_config__
        fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
        rename: dict[str, str] = {}
        for info in msgspec.structs.fields(cls):
            typed = _substitute(info.type)
            if info.encode_name != info.name:
                rename[info.name] = info.encode_name
            if info.default_factory is not msgspec.NODEFAULT:
                fields.append((info.name, typed, msgspec.field(default_factory=info.default_factory)))
            elif info.default is not msgspec.NODEFAULT:
                fields.append((info.name, typed, info.default))
            else:
                fields.append((info.name, typed))
    finally:
        _BUILDING.discard(cls)
    namespace: dict[str, Any] = {}  # the class's own methods (what a kept hook may call), then the hook rule
    for base in reversed(cls.__mro__[:cls.__mro__.index(msgspec.Struct)]):
        for name, value in vars(base).items():
            if isinstance(value, (types.FunctionType, property, staticmethod, classmethod)) and not (
                    name.startswith("__") and name.endswith("__")):
                namespace[name] = value
    post_init = getattr(cls, "__post_init__", None)
    if post_init is not None and cls not in RESHAPING_ONLY:
        namespace["__post_init__"] = post_init
    built: type[msgspec.Struct] = msgspec.defstruct(
        f"Validate{cls.__name__}", fields, kw_only=True, tag=config.tag, tag_field=config.tag_field,
        rename=rename or None, forbid_unknown_fields=config.forbid_unknown_fields, array_like=config.array_like,
        gc=False, namespace=namespace)
    COPIES[cls] = built
    return built


def _substitute(tp: Any) -> Any:
    """`tp` with every Struct type in it replaced by its validator copy."""
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return validator_type(tp)
    origin = get_origin(tp)
    if origin is None or origin is Literal:
        return tp
    args = get_args(tp)
    if origin is Annotated:
        return Annotated[(_substitute(args[0]), *tp.__metadata__)]
    if origin is Union or origin is types.UnionType:
        return Union[(*[_substitute(arg) for arg in args],)]
    if origin in (list, dict, tuple, set, frozenset) and args:
        return origin[tuple(_substitute(arg) for arg in args)]
    return tp  # (any other generic is kept as it is: still the same checks)
