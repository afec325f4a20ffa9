"""Time rules: quiet hours (policy) and a credential's allowed time window."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lnhive.core.errors import InvalidInput
from lnhive.manage.rules.base import RuleContext, Verdict, obj, only_keys, refuse

_HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
DAY_MINUTES = 1440


def _minutes(value: Any, field: str, rule: str) -> int:
    if not isinstance(value, str) or not (m := _HHMM.fullmatch(value)):
        raise InvalidInput(f"{rule}.{field} must be HH:MM")
    return int(m.group(1)) * 60 + int(m.group(2))


def _zone(value: Any, rule: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{rule}.timezone must be an IANA zone name")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"{rule}.timezone {value!r} is not a known zone") from exc
    return value


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def minute_set(start: int, end: int) -> set[int]:
    """Minutes of the day in ``[start, end)``, wrapping midnight when ``end <= start``."""
    if start == end:
        return set(range(DAY_MINUTES))
    if start < end:
        return set(range(start, end))
    return set(range(start, DAY_MINUTES)) | set(range(0, end))


def local_time(now: float, zone: str) -> datetime:
    return datetime.fromtimestamp(now, ZoneInfo(zone))


@dataclass(frozen=True)
class QuietHours:
    """Inside ``start``-``end`` (local to ``timezone``, may wrap midnight) only actions with
    D <= ``max_danger`` run; others are refused with reason ``quiet_hours``."""

    name: ClassVar[str] = "quiet_hours"
    start: int
    end: int
    timezone: str = "UTC"
    max_danger: int = 2

    @classmethod
    def from_json(cls, value: Any) -> QuietHours:
        v = obj(value, cls.name)
        only_keys(v, cls.name, ("start", "end", "timezone", "max_danger"))
        md = v.get("max_danger", 2)
        if not isinstance(md, int) or isinstance(md, bool) or not 0 <= md <= 10:
            raise InvalidInput(f"{cls.name}.max_danger must be an integer 0-10")
        return cls(
            _minutes(v.get("start"), "start", cls.name),
            _minutes(v.get("end"), "end", cls.name),
            _zone(v.get("timezone", "UTC"), cls.name),
            md,
        )

    def validate(self) -> None:
        QuietHours.from_json(self.to_json())

    def to_json(self) -> dict[str, Any]:
        return {
            "start": _hhmm(self.start),
            "end": _hhmm(self.end),
            "timezone": self.timezone,
            "max_danger": self.max_danger,
        }

    def at_least_as_strict_as(self, other: Any) -> bool:
        return (
            self.timezone == other.timezone
            and minute_set(self.start, self.end) >= minute_set(other.start, other.end)
            and self.max_danger <= other.max_danger
        )

    def enforcer(self) -> QuietHours:
        return self

    def active(self, now: float) -> bool:
        t = local_time(now, self.timezone)
        return t.hour * 60 + t.minute in minute_set(self.start, self.end)

    def check(self, ctx: RuleContext) -> Verdict | None:
        if ctx.danger > self.max_danger and self.active(ctx.now):
            return refuse(
                self.name,
                "quiet_hours",
                "quiet_hour_max_danger",
                self.max_danger,
                ctx.danger,
            )
        return None


@dataclass(frozen=True)
class TimeWindow:
    """A credential's ``time_window``: actions only on ``days`` (0 = Monday) between
    ``start`` and ``end`` local to ``timezone``."""

    name: ClassVar[str] = "time_window"
    start: int
    end: int
    timezone: str = "UTC"
    days: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)

    @classmethod
    def from_json(cls, value: Any) -> TimeWindow:
        v = obj(value, cls.name)
        only_keys(v, cls.name, ("start", "end", "timezone", "days"))
        days = v.get("days", list(range(7)))
        if (
            not isinstance(days, list)
            or not days
            or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6 for d in days)
        ):
            raise InvalidInput(f"{cls.name}.days must be a non-empty list of 0-6 (0 = Monday)")
        return cls(
            _minutes(v.get("start"), "start", cls.name),
            _minutes(v.get("end"), "end", cls.name),
            _zone(v.get("timezone", "UTC"), cls.name),
            tuple(sorted(set(days))),
        )

    def validate(self) -> None:
        TimeWindow.from_json(self.to_json())

    def to_json(self) -> dict[str, Any]:
        return {
            "start": _hhmm(self.start),
            "end": _hhmm(self.end),
            "timezone": self.timezone,
            "days": list(self.days),
        }

    def at_least_as_strict_as(self, other: Any) -> bool:
        return (
            self.timezone == other.timezone
            and set(self.days) <= set(other.days)
            and minute_set(self.start, self.end) <= minute_set(other.start, other.end)
        )

    def enforcer(self) -> TimeWindow:
        return self

    def check(self, ctx: RuleContext) -> Verdict | None:
        t = local_time(ctx.now, self.timezone)
        minute = t.hour * 60 + t.minute
        if t.weekday() in self.days and minute in minute_set(self.start, self.end):
            return None
        return refuse(
            self.name,
            "outside the credential's time window",
            "time_window",
            self.to_json(),
            t.strftime("%a %H:%M"),
        )
