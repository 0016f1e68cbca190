"""Dataclass configs to and from plain data: strict typed building, dotted `key=value` overrides, files.

One mechanism for every config of `model/` (MolmoConfig and its parts, OptimConfig, LoraConfig, TrainConfig):

    build(TrainConfig, {"seq_len": 128, "optim": {"llm_lr": 1e-3}})   # unknown keys and wrong types refused
    apply_set(data, TrainConfig, "optim.llm_lr=1e-3")                 # one --set on the dict form

Values are checked against the field's annotation (`int`, `float`, `bool`, `str`, `X | None`, `tuple[...]`,
`list[str]`, `dict`, a nested dataclass, or a union of these); lists become tuples where the field is a tuple.
Invariants beyond types are each dataclass's own `__post_init__`. Errors are `ValueError`s that name the field.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")
NONE_WORDS = ("none", "null", "~")


def field_types(cls: type) -> dict[str, Any]:
    """The resolved annotation of each field of dataclass `cls`."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def build(cls: type[T], data: Mapping[str, Any], where: str = "") -> T:
    """`cls(**data)` with every value checked (and nested dataclasses built) against the field types."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{where or cls.__name__}: expected a mapping of {cls.__name__} fields, got {data!r}")
    types_ = field_types(cls)
    unknown = sorted(set(data) - set(types_))
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field '{where}{unknown[0]}'; known: {', '.join(types_)}")
    return cls(**{k: convert(v, types_[k], f"{where}{k}") for k, v in data.items()})


def convert(value: Any, tp: Any, where: str) -> Any:
    """`value` as an instance of annotation `tp`, or a ValueError naming `where`."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        return _convert_union(value, args, where)
    if tp is type(None):
        if value is None:
            return None
        raise _bad(value, "null", where)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return value if isinstance(value, tp) else build(tp, value, f"{where}.")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _bad(value, "true or false", where)
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise _bad(value, "an integer", where)
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise _bad(value, "a number", where)
    if tp is str:
        if isinstance(value, str):
            return value
        raise _bad(value, "a string", where)
    if origin is tuple:
        return _convert_tuple(value, args, where)
    if origin is list:
        if not isinstance(value, list | tuple):
            raise _bad(value, "a list", where)
        return [convert(v, args[0] if args else Any, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise _bad(value, "a mapping", where)
        return dict(value)
    raise TypeError(f"{where}: unsupported config annotation {tp!r}")


def _convert_union(value: Any, args: tuple[Any, ...], where: str) -> Any:
    errors = []
    for arg in args:
        try:
            return convert(value, arg, where)
        except ValueError as exc:
            errors.append(str(exc).split(": ", 1)[-1])
    if len(errors) == 1:
        raise ValueError(f"{where}: {errors[0]}")
    raise ValueError(f"{where}: {value!r} is none of: " + "; ".join(errors))


def _convert_tuple(value: Any, args: tuple[Any, ...], where: str) -> tuple[Any, ...]:
    if not isinstance(value, list | tuple):
        raise _bad(value, "a list", where)
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
    if args and len(value) != len(args):
        raise ValueError(f"{where}: expected {len(args)} values, got {len(value)}")
    return tuple(convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args or [Any] * len(value),
                                                                               strict=True)))


def _bad(value: Any, what: str, where: str) -> ValueError:
    return ValueError(f"{where}: expected {what}, got {value!r}")


def to_data(obj: Any) -> Any:
    """A dataclass config as JSON-ready data (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(obj)))


# ----------------------------------------------------------------------------- --set key=value


def parse_text(text: str, tp: Any, where: str) -> Any:
    """A command-line value for a field of annotation `tp`. A string field takes the text as is; numbers as
    Python writes them (`1e-3`); `true`/`false`; `none`/`null` where None is allowed; a list or tuple as
    `a,b` or YAML `[a, b]`; a mapping or nested config as YAML `{rank: 4}`."""
    allowed = _flat_types(tp)
    if text.strip().lower() in NONE_WORDS and type(None) in allowed:
        return None
    seq = next((t for t in allowed if typing.get_origin(t) in (list, tuple)), None)
    if seq is not None and not text.lstrip().startswith("["):
        args = typing.get_args(seq)
        items = [p.strip() for p in text.split(",")] if text.strip() else []
        fixed = typing.get_origin(seq) is tuple and args and not (len(args) == 2 and args[1] is Ellipsis)
        elems = args if fixed and len(args) == len(items) else [args[0] if args else Any] * len(items)
        return convert([parse_text(p, e, f"{where}[{i}]") for i, (p, e) in enumerate(zip(items, elems,
                                                                                         strict=True))], tp, where)
    if str in allowed and bool not in allowed:
        return text
    return convert(_scalar(text, where), tp, where)


def _scalar(text: str, where: str) -> Any:
    s = text.strip()
    for cast in (int, float):
        try:
            return cast(s)
        except ValueError:
            pass
    if s.lower() in ("true", "false"):
        return s.lower() == "true"
    import yaml

    try:
        return yaml.safe_load(s) if s else ""
    except yaml.YAMLError:
        raise ValueError(f"{where}: cannot parse {text!r}") from None


def _flat_types(tp: Any) -> tuple[Any, ...]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return typing.get_args(tp)
    return (tp,)


def apply_set(data: dict[str, Any], cls: type, assignment: str,
              expand: Callable[[str, Any], Any] | None = None) -> None:
    """Apply one `dotted.key=value` to `data` (the dict form of a `cls`), in place, checking key and value.

    A nested dataclass field is walked into (`optim.llm_lr`); `expand(key, value)` may turn a non-dict value
    on the way into the dict of a dataclass (a preset name into its full config)."""
    key, sep, text = assignment.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"--set takes KEY=VALUE, got {assignment!r}")
    parts, node, klass = key.strip().split("."), data, cls
    for depth, name in enumerate(parts):
        types_ = field_types(klass)
        if name not in types_:
            where = ".".join(parts[:depth + 1])
            raise ValueError(f"unknown setting {where!r}; {klass.__name__} has: {', '.join(types_)}")
        tp = types_[name]
        if depth == len(parts) - 1:
            node[name] = to_plain(parse_text(text, tp, key.strip()))
            return
        sub = _dataclass_in(tp)
        if sub is None:
            raise ValueError(f"{'.'.join(parts[:depth + 1])!r} is not a nested config; set it whole")
        if not isinstance(node.get(name), dict):
            current = node.get(name)
            node[name] = expand(name, current) if expand and current is not None else to_data(sub())
        node, klass = node[name], sub


def _dataclass_in(tp: Any) -> type | None:
    return next((t for t in _flat_types(tp) if dataclasses.is_dataclass(t) and isinstance(t, type)), None)


def to_plain(value: Any) -> Any:
    return to_data(value) if dataclasses.is_dataclass(value) and not isinstance(value, type) else value


def merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` laid on `base`: mappings merge key by key, anything else replaces."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), dict) else v
    return out
