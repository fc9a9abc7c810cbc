"""A report's or a filter's date range: whole UTC days, both ends included.

Every page and API that takes `from` and `to` reads them the same way: `from` starts at 00:00 UTC
of its day, `to` ends at 24:00 UTC of its day, and either may be left out (no bound)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from monitor.errors import InvalidInput

# Dates outside these years are typing mistakes, and the day after 9999-12-31 cannot be
# represented: refusing them here keeps an OverflowError (a 500) out of every caller.
EARLIEST_YEAR = 1970
LATEST_YEAR = 9998


@dataclass(frozen=True)
class DateRange:
    start: dt.date | None = None
    end: dt.date | None = None

    def __post_init__(self) -> None:
        for name, day in (("from", self.start), ("to", self.end)):
            if day is not None and not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
                raise InvalidInput(
                    f"{name}: {day.isoformat()} is outside {EARLIEST_YEAR}-{LATEST_YEAR}",
                    field=name,
                )
        if self.start and self.end and self.start > self.end:
            raise InvalidInput(
                f"from ({self.start.isoformat()}) is after to ({self.end.isoformat()}): "
                "swap them or widen the range",
                field="from",
            )

    @property
    def lower(self) -> dt.datetime | None:
        """The first instant inside the range."""
        return dt.datetime.combine(self.start, dt.time.min, dt.UTC) if self.start else None

    @property
    def upper(self) -> dt.datetime | None:
        """The first instant after the range (the end day is included whole)."""
        if self.end is None:
            return None
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min, dt.UTC)

    def contains(self, t: dt.datetime) -> bool:
        lo, hi = self.lower, self.upper
        return (lo is None or t >= lo) and (hi is None or t < hi)

    def words(self) -> str:
        if self.start and self.end:
            return f"{self.start.isoformat()} to {self.end.isoformat()} (UTC, both days included)"
        if self.start:
            return f"from {self.start.isoformat()} (UTC) onwards"
        if self.end:
            return f"up to and including {self.end.isoformat()} (UTC)"
        return "all dates"

    def query(self) -> dict[str, str]:
        """The query-string parameters that give this range back (CSV links)."""
        out = {}
        if self.start:
            out["from"] = self.start.isoformat()
        if self.end:
            out["to"] = self.end.isoformat()
        return out
