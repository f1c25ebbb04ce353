"""Dates in questions: explicit dates and ranges, relative periods and comparisons, against the warehouse's calendar.

Everything relative counts from the warehouse's *latest complete day* (``anchor``), treated as "yesterday": the
question is asked on the day after it. So "last week" is the last complete Monday-Sunday week before that day,
"last month" the last complete calendar month, "in March" March of the latest year whose March has begun, "on
Sunday" the latest Sunday, "the 12th" the latest 12th. A comparison ("vs the week before", "week over week")
is the period of the same kind just before. Ranges are clipped to the data; the caller reports the clipping.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4, "may": 5,
    "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sept": 9, "sep": 9,
    "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip
WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
    "mondays": 0, "tuesdays": 1, "wednesdays": 2, "thursdays": 3, "fridays": 4, "saturdays": 5, "sundays": 6,
}  # fmt: skip
NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "fourteen": 14, "thirty": 30, "ninety": 90, "a": 1, "an": 1,
}  # fmt: skip

_MONTH = r"(?P<{n}>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_DAYNUM = r"(?P<{n}>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?:,?\s+(?P<{n}>(?:19|20)\d\d))?"
_NUM = r"(?P<n>\d+|" + "|".join(NUMBER_WORDS) + r")"


def _p(template: str, **names: str) -> str:
    for key, value in names.items():
        template = template.replace("{" + key + "}", value)
    return template


def _one_date(prefix: str) -> str:
    """A single date: ISO, 'March 12[, 2025]', '12 March [2025]', '3/12[/2025]'."""
    iso = rf"(?P<{prefix}iso>(?:19|20)\d\d-\d\d-\d\d)"
    mdy = _MONTH.format(n=f"{prefix}m1") + r"\s+" + _DAYNUM.format(n=f"{prefix}d1") + _YEAR.format(n=f"{prefix}y1")
    dmy = (
        _DAYNUM.format(n=f"{prefix}d2")
        + r"\s+(?:of\s+)?"
        + _MONTH.format(n=f"{prefix}m2")
        + _YEAR.format(n=f"{prefix}y2")
    )
    slash = rf"(?P<{prefix}sm>[01]?\d)/(?P<{prefix}sd>[0-3]?\d)(?:/(?P<{prefix}sy>(?:19|20)?\d\d))?"
    return rf"(?:{iso}|{mdy}|{dmy}|{slash})"


DATE_RANGE = re.compile(
    r"\b(?:from|between)?\s*"
    + _one_date("a")
    + r"\s*(?:to|and|-|–|until|till|through|thru)\s*"
    + _one_date("b")
    + r"\b"
)
SINCE = re.compile(r"\b(?:since|starting|from)\s+" + _one_date("a") + r"\b")
SINGLE = re.compile(r"\b" + _one_date("a") + r"\b")
ORDINAL_DAY = re.compile(r"\b(?:on\s+)?the\s+(?P<d>[0-3]?\d)(?:st|nd|rd|th)\b(?!\s+(?:week|day|month|step|cohort))")
LAST_N = re.compile(
    r"\b(?:(?:in|over|during|for)\s+)?(?:the\s+)?(?:last|past|previous|prior|trailing|recent)\s+"
    + _NUM
    + r"\s+(?P<unit>days?|weeks?|months?)\b"
)
N_AGO = re.compile(r"\b" + _NUM + r"\s+(?P<unit>days?|weeks?|months?)\s+ago\b")
NAMED = re.compile(
    r"\b(?P<k>day before yesterday|yesterday|today|so far today|"
    r"(?:in|over|during)\s+the\s+(?:last|past)\s+(?:week|month)|"
    r"the\s+week\s+before\s+last|the\s+month\s+before\s+last|"
    r"(?:the\s+)?(?:last|previous|prior)\s+(?:calendar\s+)?(?:week|month|quarter|year)|"
    r"(?:the\s+)?past\s+(?:week|month|quarter|year)|"
    r"this\s+(?:week|month|quarter|year)|(?:so\s+far\s+)?this\s+week|"
    r"year\s+to\s+date|ytd|month\s+to\s+date|mtd|week\s+to\s+date|wtd|"
    r"all\s+time|ever|since\s+(?:launch|the\s+start|the\s+beginning|we\s+started)|to\s+date|in\s+total)\b"
)
WEEK_OF = re.compile(r"\b(?:the\s+)?week\s+(?:of|starting|beginning)\s+" + _one_date("a") + r"\b")
MONTH_ONLY = re.compile(
    r"\b(?:(?P<pre>in|during|for|of|over|through|throughout|across)\s+)?"
    + _MONTH.format(n="m")
    + r"(?:\s+(?P<y>(?:19|20)\d\d))?\b"
)
WEEKDAY = re.compile(r"\b(?:(?:on|last|this|past)\s+)?(?P<w>" + "|".join(WEEKDAYS) + r")\b")
QUARTER = re.compile(r"\b(?:in\s+)?q(?P<q>[1-4])(?:\s+(?P<y>(?:19|20)\d\d))?\b")
COMPARE_CUE = re.compile(
    r"\b(?:vs\.?|versus|compared\s+(?:to|with)|comparing|relative\s+to|against|than)\b|\bcompare\b"
)
OVER_CUE = re.compile(
    r"\b(?P<k>week[\s-]+over[\s-]+week|wow|month[\s-]+over[\s-]+month|mom|day[\s-]+over[\s-]+day|dod|"
    r"year[\s-]+over[\s-]+year|yoy)\b"
)
CHANGE_CUE = re.compile(r"\b(?:change[ds]?|changing|grow(?:n|th|ing)?|grew|increase[ds]?|decrease[ds]?|up or down)\b")
PREVIOUS_CUE = re.compile(
    r"\b(?:the\s+)?(?:(?:week|month|day|year|period)\s+before|previous\s+(?:week|month|day|year|period)|"
    r"prior\s+(?:week|month|day|year|period)|week\s+prior|month\s+prior|day\s+before|before\s+that|"
    r"same\s+period\s+last\s+(?:year|month)|preceding\s+(?:week|month|period))\b"
)


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    label: str
    kind: str = "range"  # day | week | month | quarter | year | range

    def shifted_back(self) -> Period:
        """The period of the same kind just before this one."""
        if self.kind == "month":
            last = self.start - timedelta(days=1)
            return Period(last.replace(day=1), last, "the month before", "month")
        if self.kind == "quarter":
            end = self.start - timedelta(days=1)
            start = date(end.year, 3 * ((end.month - 1) // 3) + 1, 1)
            return Period(start, end, "the quarter before", "quarter")
        if self.kind == "year":
            return Period(date(self.start.year - 1, 1, 1), date(self.start.year - 1, 12, 31), "the year before", "year")
        length = (self.end - self.start).days + 1
        label = {"day": "the day before", "week": "the week before"}.get(self.kind, f"the {length} days before")
        return Period(self.start - timedelta(days=length), self.start - timedelta(days=1), label, self.kind)


@dataclass(frozen=True)
class TimeParse:
    period: Period | None
    compare: Period | None
    spans: tuple[tuple[int, int], ...]  # character spans of the question the dates took


def _year_for(month: int, day: int, anchor: date) -> int:
    """The latest year in which month/day is not after the anchor."""
    year = anchor.year
    try:
        if date(year, month, min(day, calendar.monthrange(year, month)[1])) > anchor:
            year -= 1
    except ValueError:
        year -= 1
    return year


def _number(text: str) -> int:
    return int(text) if text.isdigit() else NUMBER_WORDS[text]


def _date_from(match: re.Match[str], prefix: str, anchor: date) -> date | None:
    g = match.groupdict()
    try:
        if g.get(f"{prefix}iso"):
            return date.fromisoformat(g[f"{prefix}iso"])
        for m_key, d_key, y_key in (
            (f"{prefix}m1", f"{prefix}d1", f"{prefix}y1"),
            (f"{prefix}m2", f"{prefix}d2", f"{prefix}y2"),
        ):
            if g.get(m_key):
                month, day = MONTHS[g[m_key]], int(g[d_key])
                year = int(g[y_key]) if g.get(y_key) else _year_for(month, day, anchor)
                return date(year, month, day)
        if g.get(f"{prefix}sm"):
            month, day = int(g[f"{prefix}sm"]), int(g[f"{prefix}sd"])
            raw_year = g.get(f"{prefix}sy")
            year = (
                (2000 + int(raw_year) if len(raw_year) == 2 else int(raw_year))
                if raw_year
                else _year_for(month, day, anchor)
            )
            return date(year, month, day)
    except (ValueError, KeyError):
        return None
    return None


def _week(monday: date, label: str) -> Period:
    return Period(monday, monday + timedelta(days=6), label, "week")


def _month(year: int, month: int, label: str) -> Period:
    return Period(date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]), label, "month")


def _named(kind: str, anchor: date, first: date) -> Period:
    today = anchor + timedelta(days=1)
    this_monday = today - timedelta(days=today.weekday())
    kind = " ".join(kind.split())
    if kind == "yesterday":
        return Period(anchor, anchor, "yesterday", "day")
    if kind == "day before yesterday":
        day = anchor - timedelta(days=1)
        return Period(day, day, "the day before yesterday", "day")
    if kind in ("today", "so far today"):
        return Period(today, today, "today", "day")
    if kind.endswith(("past week", "last week")) and kind.startswith(("in ", "over ", "during ")):
        return Period(anchor - timedelta(days=6), anchor, "the last 7 days")
    if kind.endswith(("past month", "last month")) and kind.startswith(("in ", "over ", "during ")):
        return Period(anchor - timedelta(days=29), anchor, "the last 30 days")
    if "past week" in kind:
        return Period(anchor - timedelta(days=6), anchor, "the past 7 days")
    if "past month" in kind:
        return Period(anchor - timedelta(days=29), anchor, "the past 30 days")
    if "week before last" in kind:
        return _week(this_monday - timedelta(days=14), "the week before last")
    if "month before last" in kind:
        last = today.replace(day=1) - timedelta(days=1)
        before = last.replace(day=1) - timedelta(days=1)
        return _month(before.year, before.month, "the month before last")
    if kind.endswith("week") and ("last" in kind or "previous" in kind or "prior" in kind):
        return _week(this_monday - timedelta(days=7), "last week")
    if kind.endswith("month") and ("last" in kind or "previous" in kind or "prior" in kind):
        last = today.replace(day=1) - timedelta(days=1)
        return _month(last.year, last.month, "last month")
    if kind.endswith("quarter") and ("last" in kind or "previous" in kind or "prior" in kind or "past" in kind):
        start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        end = start - timedelta(days=1)
        return Period(date(end.year, 3 * ((end.month - 1) // 3) + 1, 1), end, "last quarter", "quarter")
    if kind.endswith("year") and ("last" in kind or "previous" in kind or "prior" in kind or "past" in kind):
        return Period(date(today.year - 1, 1, 1), date(today.year - 1, 12, 31), "last year", "year")
    if kind in ("this week", "so far this week", "week to date", "wtd"):
        return Period(min(this_monday, anchor), anchor, "this week")
    if kind in ("this month", "month to date", "mtd"):
        return Period(min(today.replace(day=1), anchor), anchor, "this month")
    if kind == "this quarter":
        return Period(min(date(today.year, 3 * ((today.month - 1) // 3) + 1, 1), anchor), anchor, "this quarter")
    if kind in ("this year", "year to date", "ytd"):
        return Period(min(date(today.year, 1, 1), anchor), anchor, "this year")
    return Period(first, anchor, "all time")


def parse_time(text: str, anchor: date, first: date) -> TimeParse:
    """Find the period (and a comparison period) a lowercase question asks about; None when it names none."""
    cue = COMPARE_CUE.search(text)
    main_text, compare_text = (text[: cue.start()], text[cue.end() :]) if cue else (text, "")
    spans: list[tuple[int, int]] = []
    period, found = _first_period(main_text, anchor, first, 0)
    spans += found
    compare: Period | None = None
    if cue:
        spans.append((cue.start(), cue.end()))
        previous = PREVIOUS_CUE.search(compare_text)
        if previous and period is not None:
            compare = period.shifted_back()
            spans.append((cue.end() + previous.start(), cue.end() + previous.end()))
        else:
            compare, more = _first_period(compare_text, anchor, first, cue.end())
            spans += more
            if compare is None and period is not None and re.search(r"\bbefore\b", compare_text):
                compare = period.shifted_back()
            elif (
                period is not None
                and compare is not None
                and (compare.start, compare.end) == (period.start, period.end)
            ):
                # "Saturday vs the Saturday before": the same words again mean the one before
                weekday = WEEKDAY.search(compare_text)
                if weekday and period.kind == "day":
                    day = period.start - timedelta(days=7)
                    compare = Period(day, day, day.strftime("%A %Y-%m-%d"), "day")
                else:
                    compare = period.shifted_back()
            elif period is None and compare is not None:
                # "android vs ios yesterday": the cue compares values, and the period belongs to the question
                period, compare = compare, None
    over = OVER_CUE.search(text)
    if over:
        spans.append(over.span())
        kind = over.group("k").replace("-", " ")
        unit = {"w": "week", "m": "month", "d": "day", "y": "year"}[kind[0]]
        if period is None:
            period = (
                _named(f"last {unit}", anchor, first)
                if unit in ("week", "month", "year")
                else _named("yesterday", anchor, first)
            )
        compare = compare or period.shifted_back()
    return TimeParse(period, compare, tuple(spans))


def _first_period(text: str, anchor: date, first: date, offset: int) -> tuple[Period | None, list[tuple[int, int]]]:
    """The first period named in ``text`` (patterns tried from the most to the least specific)."""
    for finder in (
        _range,
        _since,
        _week_of,
        _last_n,
        _n_ago,
        _named_match,
        _quarter,
        _single,
        _ordinal,
        _month_only,
        _weekday,
    ):
        found = finder(text, anchor, first)
        if found is not None:
            period, (start, end) = found
            return period, [(start + offset, end + offset)]
    return None, []


def _range(text: str, anchor: date, first: date) -> tuple[Period, tuple[int, int]] | None:
    match = DATE_RANGE.search(text)
    if match:
        a, b = _date_from(match, "a", anchor), _date_from(match, "b", anchor)
        if a and b:
            a, b = min(a, b), max(a, b)
            return Period(a, b, f"{a.isoformat()} to {b.isoformat()}"), match.span()
    return None


def _since(text: str, anchor: date, first: date) -> tuple[Period, tuple[int, int]] | None:
    match = SINCE.search(text)
    if match:
        a = _date_from(match, "a", anchor)
        if a:
            return Period(a, anchor, f"since {a.isoformat()}"), match.span()
    return None


def _week_of(text: str, anchor: date, first: date) -> tuple[Period, tuple[int, int]] | None:
    match = WEEK_OF.search(text)
    if match:
        a = _date_from(match, "a", anchor)
        if a:
            monday = a - timedelta(days=a.weekday())
            return _week(monday, f"the week of {monday.isoformat()}"), match.span()
    return None


def _last_n(text: str, anchor: date, first: date) -> tuple[Period, tuple[int, int]] | None:
    match = LAST_N.search(text)
    if not match:
        return None
    n, unit = _number(match.group("n")), match.group("unit").rstrip("s")
    days = n * {"day": 1, "week": 7, "month": 30}[unit]
    return Period(
        anchor - timedelta(days=days - 1), anchor, f"the last {n} {unit}{'s' if n != 1 else ''}"
    ), match.span()


def _n_ago(text: str, anchor: date, first: date) -> tuple[Period, tuple[int, int]] | None:
    match = N_AGO.search(text)
    if not match:
        return None
    n, unit = _number(match.group("n")), match.group("unit").rstrip("s")
    today = anchor + timedelta(days=1)
    if unit == "day":
        day = today - timedelta(days=n)
        return Period(day, day, f"{n} days ago", "day"), match.span()
    if unit == "week":
        monday = today - timedelta(days=today.weekday()) - timedelta(days=7 * n)
        return _week(monday, f"{n} weeks ago"), match.span()
    month_start = today.replace(day=1)
    for _ in range(n):
        month_start = (month_start - timedelta(days=1)).replace(day=1)
    return _month(month_start.year, month_start.month, f"{n} months ago"), match.span()


def _named_match(text: str, anchor: date, first: date) -> tuple[Period, tuple[int, int]] | None:
    match = NAMED.search(text)
    if match:
        return _named(match.group("k"), anchor, first), match.span()
    return None


def _quarter(text: str, anchor: date, first: date) -> tuple[Period, tuple[int, int]] | None:
    match = QUARTER.search(text)
    if not match:
        return None
    q = int(match.group("q"))
    year = (
        int(match.group("y"))
        if match.group("y")
        else (anchor.year if date(anchor.year, 3 * q - 2, 1) <= anchor else anchor.year - 1)
    )
    end_month = 3 * q
    return Period(
        date(year, end_month - 2, 1),
        date(year, end_month, calendar.monthrange(year, end_month)[1]),
        f"Q{q} {year}",
        "quarter",
    ), match.span()


def _single(text: str, anchor: date, first: date) -> tuple[Period, tuple[int, int]] | None:
    for match in SINGLE.finditer(text):
        day = _date_from(match, "a", anchor)
        if day:
            return Period(day, day, day.strftime("%A %Y-%m-%d"), "day"), match.span()
    return None


def _ordinal(text: str, anchor: date, first: date) -> tuple[Period, tuple[int, int]] | None:
    match = ORDINAL_DAY.search(text)
    if not match:
        return None
    day_of_month = int(match.group("d"))
    candidate = anchor.replace(day=1)
    for _ in range(3):  # this month, or the latest earlier month that has that day
        try:
            day = candidate.replace(day=day_of_month)
        except ValueError:
            day = None
        if day is not None and day <= anchor:
            return Period(day, day, day.strftime("%A %Y-%m-%d"), "day"), match.span()
        candidate = (candidate - timedelta(days=1)).replace(day=1)
    return None


def _month_only(text: str, anchor: date, first: date) -> tuple[Period, tuple[int, int]] | None:
    for match in MONTH_ONLY.finditer(text):
        name = match.group("m")
        if name == "may" and not (match.group("pre") or match.group("y")):
            continue  # "may" is a month only in "in may", "may 2025"
        month = MONTHS[name]
        year = int(match.group("y")) if match.group("y") else _year_for(month, 1, anchor)
        return _month(year, month, f"{calendar.month_name[month]} {year}"), match.span()
    return None


def _weekday(text: str, anchor: date, first: date) -> tuple[Period, tuple[int, int]] | None:
    match = WEEKDAY.search(text)
    if not match:
        return None
    wanted = WEEKDAYS[match.group("w")]
    day = anchor - timedelta(days=(anchor.weekday() - wanted) % 7)
    return Period(day, day, day.strftime("%A %Y-%m-%d"), "day"), match.span()
