"""Business-hour clocks as SQL text, so a KPI can use them when an export has no business-hour column.

The trick: count business minutes from a fixed Monday (1970-01-05) up to an instant; the business minutes between two
instants are the difference of their counts. Both instants are read on the account's wall clock first, so
a daylight-saving jump never adds or removes a business hour. Public holidays are not taken out.

Only column names from the registry reach this text; the schedule comes in as bound parameters:
``$tz``, ``$bh_start`` and ``$bh_span`` (minutes), ``$bh_days`` (seven 0/1 flags from Monday) and
``$bh_days_before`` (eight counts: business days among the first k weekdays).
"""

from __future__ import annotations

from datetime import time

SECONDS_PER_DAY = 86_400
EPOCH_MONDAY_DAY = 4  # 1970-01-05, the first Monday after the Unix epoch, is day 4


def business_minutes(start: str, end: str) -> str:
    """Business minutes from ``start`` to ``end`` (naive UTC columns); NULL when either is NULL."""
    return f"({_minutes_since_epoch(end)} - {_minutes_since_epoch(start)})"


def _minutes_since_epoch(column: str) -> str:
    # The wall-clock conversion is the costly part (about 0.3 s per million rows): it runs once per value, bound
    # to `e` through a one-element list, instead of once per use (3x faster at a million tickets).
    days = f"(floor(e / {SECONDS_PER_DAY})::BIGINT - {EPOCH_MONDAY_DAY})"  # whole days since that Monday
    weekday = f"({days} % 7)"
    minute_of_day = f"((e - floor(e / {SECONDS_PER_DAY}) * {SECONDS_PER_DAY}) / 60.0)"
    whole_days = f"(({days} // 7) * $bh_days_before[8] + $bh_days_before[{weekday} + 1])"
    today = f"$bh_days[{weekday} + 1] * least(greatest({minute_of_day} - $bh_start, 0), $bh_span)"
    local_epoch = f"epoch(timezone($tz, timezone('UTC', {column})))"
    return f"list_transform([{local_epoch}], lambda e: {whole_days} * $bh_span + {today})[1]"


def schedule_params(start: time, end: time, days: tuple[str, ...], weekdays: tuple[str, ...]) -> dict[str, object]:
    """The bound parameters the clock expects, from the settings' business hours and days."""
    flags = [int(day in days) for day in weekdays]
    before = [sum(flags[:k]) for k in range(8)]
    start_minute = start.hour * 60 + start.minute
    return {
        "bh_start": float(start_minute),
        "bh_span": float(end.hour * 60 + end.minute - start_minute),
        "bh_days": flags,
        "bh_days_before": before,
    }
