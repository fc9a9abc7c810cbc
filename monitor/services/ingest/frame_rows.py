"""A chunk's frame records inserted through the driver's own executemany.

The frame INSERT is the biggest statement of a batch: a row per frame. Through Core, each of
its nine values went through SQLAlchemy's parameter processing one by one (7.5 ms of a 1,000-row
insert that takes the driver 2 ms here). `Connection.exec_driver_sql` skips that; the values are
converted here with each column type's own bind processor (what Core would have applied), and
the two times, which repeat across a batch (one `stored_at`, a relay's `received_at`s), are
converted once per distinct value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Connection, Dialect

from monitor.models import FrameRecord

COLUMNS = (
    "device_id",
    "counter",
    "ftype",
    "raw",
    "gateway_id",
    "link",
    "rssi",
    "received_at",
    "stored_at",
)
_TIMES = (COLUMNS.index("received_at"), COLUMNS.index("stored_at"))
_PLACEHOLDER = {"qmark": "?", "format": "%s", "pyformat": "%s", "numeric": ":{}"}


class FrameRows:
    """One dialect's statement and converters, made once per engine."""

    def __init__(self, dialect: Dialect) -> None:
        table = FrameRecord.__table__
        mark = _PLACEHOLDER[dialect.paramstyle]
        marks = ", ".join(mark.format(i + 1) for i in range(len(COLUMNS)))
        names = ", ".join(COLUMNS)
        self.sql = f"INSERT INTO {FrameRecord.__tablename__} ({names}) VALUES ({marks})"
        self._convert: list[Callable[[Any], Any] | None] = [
            table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in COLUMNS
        ]

    def insert(self, connection: Connection, rows: list[tuple[Any, ...]]) -> None:
        """`rows`: tuples in COLUMNS order, values as the model's types take them."""
        seen: dict[dt.datetime, Any] = {}
        convert = self._convert
        out = []
        for row in rows:
            values = list(row)
            for i, fn in enumerate(convert):
                if fn is None:
                    continue
                v = values[i]
                if i in _TIMES:
                    done = seen.get(v)
                    if done is None:
                        done = seen[v] = fn(v)
                    values[i] = done
                elif v is not None:
                    values[i] = fn(v)
            out.append(tuple(values))
        connection.exec_driver_sql(self.sql, out)


_BY_DIALECT: dict[str, FrameRows] = {}


def for_dialect(dialect: Dialect) -> FrameRows:
    rows = _BY_DIALECT.get(dialect.name)
    if rows is None:
        rows = _BY_DIALECT[dialect.name] = FrameRows(dialect)
    return rows
