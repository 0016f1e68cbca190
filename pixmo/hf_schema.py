"""Parquet schemas of the published subsets: checking a file before reading any row, and the
Hugging Face ``features`` metadata that ``export-hf`` writes.

A file with a missing, extra or mistyped column, or the file of another subset, is one clear
error naming the column (and the subset the columns do match, when one does), instead of every
row being rejected one by one. Types are compared by kind, so the variants writers produce
(``large_string`` for ``string``, ``int32`` for ``int64``, ``large_list`` for ``list``) pass.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


class SchemaError(ValueError):
    """The file's columns do not fit the subset; the message names the column."""


def _kind(t: pa.DataType) -> str:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "binary"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return "list"
    if pa.types.is_struct(t):
        return "struct"
    if pa.types.is_null(t):
        return "null"
    return str(t)


def type_problem(got: pa.DataType, want: pa.DataType) -> str | None:
    """Why ``got`` cannot hold values of ``want`` (None when it can)."""
    g, w = _kind(got), _kind(want)
    if g == "null":  # an all-null column: the rows decide
        return None
    if g != w and not (g == "int" and w == "float"):
        return f"is {got}, expected {want}"
    if w == "list":
        inner = type_problem(got.value_type, want.value_type)
        return f"items {inner}" if inner else None
    if w == "struct":
        got_fields = {got.field(i).name: got.field(i).type for i in range(got.num_fields)}
        for i in range(want.num_fields):
            f = want.field(i)
            if f.name not in got_fields:
                return f"has no field {f.name!r} (expected {want})"
            inner = type_problem(got_fields[f.name], f.type)
            if inner:
                return f"field {f.name!r} {inner}"
    return None


def check_schema(path: str | Path, subset: str, schemas: dict[str, pa.Schema],
                 ignore: tuple[str, ...] = ()) -> None:
    """Raise SchemaError naming the first problem of ``path``'s columns for ``subset``."""
    try:
        got = pq.read_schema(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise SchemaError(f"{Path(path).name}: not a readable Parquet file ({exc})") from None
    want = schemas[subset]
    names = [n for n in got.names if n not in ignore]
    missing = [n for n in want.names if n not in names]
    extra = [n for n in names if n not in want.names]
    name = Path(path).name
    if missing or extra:
        like = [s for s, sc in schemas.items() if set(sc.names) == set(names)]
        hint = f"; its columns are those of {' / '.join(like)}" if like and subset not in like else ""
        what = (f"missing column {missing[0]!r}" if missing else f"unexpected column {extra[0]!r}")
        more = len(missing) + len(extra) - 1
        raise SchemaError(f"{name}: {what} for {subset}{hint}"
                          + (f" ({more} more column differences)" if more else ""))
    for f in want:
        problem = type_problem(got.field(f.name).type, f.type)
        if problem:
            raise SchemaError(f"{name}: column {f.name!r} {problem} for {subset}")


_DTYPES = {pa.string(): "string", pa.large_string(): "large_string", pa.int32(): "int32", pa.int64(): "int64",
           pa.float32(): "float32", pa.float64(): "float64", pa.bool_(): "bool", pa.binary(): "binary"}


def _feature(t: pa.DataType) -> dict[str, object]:
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return {"feature": _feature(t.value_type), "_type": "List"}
    if pa.types.is_struct(t):
        return {t.field(i).name: _feature(t.field(i).type) for i in range(t.num_fields)}
    return {"dtype": _DTYPES[t], "_type": "Value"}


def hf_features(schema: pa.Schema, image_columns: tuple[str, ...] = ("image",)) -> dict[str, object]:
    """The Hugging Face ``datasets`` features of a published schema (format of ``Features.to_dict``):
    ``{bytes, path}`` image columns are ``Image`` features, so they load as images."""
    return {f.name: {"_type": "Image"} if f.name in image_columns else _feature(f.type) for f in schema}


def with_hf_metadata(schema: pa.Schema) -> pa.Schema:
    """``schema`` with the ``huggingface`` metadata key that ``datasets`` reads its features from."""
    import json

    meta = {"info": {"features": hf_features(schema)}}
    return schema.with_metadata({**(schema.metadata or {}), b"huggingface": json.dumps(meta).encode()})
