"""Every registered KPI for a period, for scripts and scheduled reports.

    python -m metrics.report --json [--db PATH] [--start YYYY-MM-DD --end YYYY-MM-DD]
    python -m metrics.report --html OUT.html [--db PATH] [--start YYYY-MM-DD --end YYYY-MM-DD]

``--html`` writes the Overview (its tiles with their definitions, its charts) as one HTML file that opens offline,
as the dashboard's "Download this view (HTML)" does; it is the one module of ``metrics`` that draws, through
``html_report``, because it is a command: nothing imports it.

Tickets count by creation date, orders by order date, both ends inclusive, in the account time zone. Without
dates: the 30 days up to the newest data. Durations in minutes, rates as fractions, no data as null; with
several currencies ``average_order_value``, ``net_sales`` and ``refund_rate_by_value`` are objects keyed by
currency. ``categories`` lists the period's
tickets per category, largest first, as ``{category, label, source, tickets}``: the store's own categories under
their own names (source "export"), the taxonomy's under its labels ("taxonomy"), uncategorised ("none").
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from data.categorising import category_labels
from data.classifier import TaxonomyError, load_taxonomy
from data.warehouse import Warehouse, WarehouseError
from metrics.complaints import category_counts
from metrics.query import Filters, Value, default_filters, totals
from metrics.registry import METRICS
from metrics.units import format_value
from settings import Settings, SettingsError, get_settings


def report(
    warehouse: Warehouse, settings: Settings, start: date | None = None, end: date | None = None
) -> tuple[Filters, dict[str, object]]:
    """Every KPI by name, and ``categories``: the period's tickets per category, largest first."""
    cur = warehouse.cursor()
    filters = Filters(start=start, end=end) if start and end else default_filters(cur, settings=settings)
    values = totals(cur, [metric.name for metric in METRICS], filters, settings)
    taxonomy = load_taxonomy(settings.taxonomy_file)
    categories = category_counts(cur, filters, category_labels(cur, taxonomy), taxonomy.slugs, settings)
    return filters, {**{name: _single_currency_as_number(value) for name, value in values.items()},
                     "categories": categories}


def _single_currency_as_number(value: Value) -> Value:
    if isinstance(value, dict):
        return next(iter(value.values())) if len(value) == 1 else value or None
    return value


def write_html(warehouse: Warehouse, settings: Settings, out: Path, start: date | None = None,
               end: date | None = None) -> Filters:
    """The Overview for the given days (the 30 up to the newest data without them) as one HTML file at ``out``."""
    import html_report  # only here: the JSON and text reports need no Plotly

    cur = warehouse.cursor()
    filters = Filters(start=start, end=end) if start and end else default_filters(cur, settings=settings)
    labels = category_labels(cur, load_taxonomy(settings.taxonomy_file))
    document = html_report.overview(cur, settings, filters, lambda slug: labels.get(slug, slug),
                                    datetime.now(ZoneInfo(settings.timezone)))
    try:
        out.write_text(document, encoding="utf-8")
    except OSError as error:  # e.g. a folder that does not exist: one line, not a traceback
        raise ValueError(f"cannot write {out}: {error.strerror}") from error
    return filters


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if (args.start is None) != (args.end is None):
            raise ValueError("give both --start and --end, or neither")
        settings = get_settings()
        db = Path(args.db) if args.db else settings.warehouse_file
        warehouse = Warehouse(db, read_only=True)
        if args.html:
            filters = write_html(warehouse, settings, Path(args.html), args.start, args.end)
            print(f"Wrote the Overview {filters.start} – {filters.end} to {args.html}")
            return 0
        filters, values = report(warehouse, settings, args.start, args.end)
    except (WarehouseError, SettingsError, TaxonomyError, ValueError) as error:
        print(f"metrics.report: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(values, indent=2))
    else:
        print(f"CS Pulse KPIs {filters.start} – {filters.end}")
        for metric in METRICS:
            print(f"  {metric.label:<32} {_text(values[metric.name], metric.unit)}")
        print("Tickets per category")
        for row in values["categories"]:
            print(f"  {row['label']:<32} {row['tickets']:>8,}  ({row['source']})")
    return 0


def _text(value: Value, unit: str) -> str:
    if isinstance(value, dict):  # money carries its currency; a ratio per currency is prefixed with it
        return ", ".join(format_value(v, unit, currency) if unit == "money" else f"{currency} {format_value(v, unit)}"
                         for currency, v in value.items())
    return format_value(value, unit)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m metrics.report", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON object keyed by KPI name")
    parser.add_argument("--html", metavar="OUT.html", help="write the Overview as one HTML file that opens offline")
    parser.add_argument("--db", help="warehouse file (default: CSPULSE_WAREHOUSE_PATH)")
    parser.add_argument("--start", type=date.fromisoformat, help="first day, YYYY-MM-DD")
    parser.add_argument("--end", type=date.fromisoformat, help="last day, YYYY-MM-DD")
    return parser


if __name__ == "__main__":
    sys.exit(main())
