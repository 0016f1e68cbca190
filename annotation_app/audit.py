"""The audit log: every write inserts one row in the same transaction as the write itself."""

from __future__ import annotations

import json
from typing import Any

from annotation_app.db import now
from annotation_app.sql import Op, Q, Step, execute

_INSERT = Q("INSERT INTO audit_log (at, user_id, action, object_type, object_id, detail, ip) "
               "VALUES (:at, :u, :a, :ot, :oid, :d, :ip)")


def audit(conn: Any, user_id: int | None, action: str, object_type: str = "", object_id: Any = "",
          detail: dict[str, Any] | None = None, ip: str = "") -> None:
    execute(conn, *audit_op(user_id, action, object_type, object_id, detail, ip)[1:])


def audit_op(user_id: int | None, action: str, object_type: str = "", object_id: Any = "",
             detail: dict[str, Any] | None = None, ip: str = "") -> Op:
    """The audit insert as an ``Op`` for generator-written transactions (``annotation_app.sql``)."""
    return Op("execute", _INSERT, {"at": now(), "u": user_id, "a": action, "ot": object_type, "oid": str(object_id),
                                   "d": json.dumps(detail or {}, default=str), "ip": ip[:64]})


def audit_step(action: str, object_type: str, object_id: str, detail: str) -> Step:
    """The audit insert as the last step of a ``sql.Chain``: ``object_id`` and ``detail`` (JSON
    text) are SQL expressions, usually over an earlier step's row (``{ins.id}``); ``:t``, ``:u`` and
    ``:ip`` come from the chain's parameters."""
    return Step("aud", table="audit_log", values=(
        ("at", ":t"), ("user_id", ":u"), ("action", f"'{action}'"), ("object_type", f"'{object_type}'"),
        ("object_id", f"CAST({object_id} AS TEXT)"), ("detail", f"JSON({detail})"), ("ip", ":ip")))
