"""The audit log: every write inserts one row in the same transaction as the write itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert

from annotation_app.db import now
from annotation_app.models import AuditLog


def audit(conn: Connection, user_id: int | None, action: str, object_type: str = "", object_id: Any = "",
          detail: dict[str, Any] | None = None, ip: str = "") -> None:
    conn.execute(insert(AuditLog).values(at=now(), user_id=user_id, action=action, object_type=object_type,
                                         object_id=str(object_id), detail=detail or {}, ip=ip[:64]))
