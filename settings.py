"""CS Pulse settings: environment variables prefixed ``CSPULSE_`` or an optional ``.env`` file.

Read by every layer. A bad value raises :class:`SettingsError` naming the setting, so start-up stops with a
message a person can act on instead of a traceback.
"""

from __future__ import annotations

import functools
from datetime import date, time
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ENV_PREFIX = "CSPULSE_"
DEFAULT_COUNTRY = "US"  # has a holiday calendar (tests/test_startup.py checks), so it needs no look-up at start


class SettingsError(ValueError):
    """A setting has a value CS Pulse cannot use; the message names the variable."""


class PeakEvent(BaseModel):
    """A custom peak from settings: a name and its first and last local day."""

    name: str = Field(min_length=1)
    start: date
    end: date

    @model_validator(mode="after")
    def _ends_after_start(self) -> PeakEvent:
        if self.end < self.start:
            raise ValueError(f"event {self.name!r} ends ({self.end}) before it starts ({self.start})")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    warehouse_path: Path = Field(
        Path("data/warehouse.duckdb"), description="DuckDB file; relative paths are from the project folder."
    )
    timezone: str = Field("UTC", description="Account time zone (IANA name): days, hours and periods use it.")
    business_hours_start: time = Field(time(9, 0), description="Start of the business day, local time.")
    business_hours_end: time = Field(time(18, 0), description="End of the business day, local time.")
    business_days: Annotated[tuple[str, ...], NoDecode] = Field(
        ("mon", "tue", "wed", "thu", "fri"), description="Business days, comma-separated: mon,tue,..."
    )
    sla_first_reply_minutes: dict[str, float] = Field(
        {"email": 1440, "chat": 2, "phone": 1, "social": 240, "web": 1440, "other": 1440},
        description="First reply target per channel, in minutes (JSON object).",
    )
    sla_resolution_minutes: dict[str, float] = Field(
        {"email": 4320, "chat": 60, "phone": 60, "social": 2880, "web": 4320, "other": 4320},
        description="Full resolution target per channel, in minutes (JSON object).",
    )
    sla_first_reply_minutes_by_priority: dict[str, float] = Field(
        {"urgent": 60, "high": 240},
        description="First reply target per priority, in minutes (JSON); the stricter of channel and priority applies.",
    )
    sla_resolution_minutes_by_priority: dict[str, float] = Field(
        {"urgent": 480, "high": 1440},
        description="Resolution target per priority, in minutes (JSON); the stricter of channel and priority applies.",
    )
    escalation_tags: Annotated[tuple[str, ...], NoDecode] = Field(
        ("escalated", "escalation", "tier2", "tier_2"),
        description="Tags that mark a ticket escalated, comma-separated.",
    )
    escalation_groups: Annotated[tuple[str, ...], NoDecode] = Field(
        ("tier 2", "escalations"), description="Groups whose tickets count as escalated, comma-separated."
    )
    automation_tags: Annotated[tuple[str, ...], NoDecode] = Field(
        ("automated", "auto_closed", "auto-closed", "bot", "self_service"),
        description="Tags that mark a ticket solved without a human reply, comma-separated.",
    )
    taxonomy_path: Path | None = Field(
        None, description="Your own complaint taxonomy (TOML, same shape as data/taxonomy.toml); unset: the default."
    )
    rising_weeks: int = Field(8, ge=3, le=52, description="Weeks a category's last 7 days are compared with.")
    rising_z: float = Field(3.0, gt=0, description="z-score at which a category counts as rising.")
    rising_min: int = Field(5, ge=1, description="Fewest tickets in the last 7 days for a category to count as rising.")
    fulfilment_target_hours: float = Field(
        48.0, gt=0, description="Hours from order to fulfilment after which an order counts as fulfilled late."
    )
    min_sample: int = Field(20, ge=1, description="A value over fewer tickets than this is marked as a small sample.")
    csat_good_min_score: int = Field(
        4, ge=1, le=5, description="CSAT rule: a 1-5 rating at or above this counts as satisfied; Good/Bad as is."
    )
    upload_max_bytes: int = Field(200_000_000, gt=0, description="Largest upload accepted, in bytes.")
    upload_max_rows: int = Field(2_000_000, gt=0, description="Most data rows accepted in one file.")
    upload_max_columns: int = Field(300, gt=0, description="Most columns accepted in one file.")
    upload_max_unpacked_bytes: int = Field(
        500_000_000, gt=0, description="Most bytes an XLSX upload may unpack to; its reader stops there (zip bombs)."
    )
    # --- the command line (python -m data.cli): files from disk, read in batches, not held in a browser's upload ---
    cli_max_bytes: int | None = Field(None, gt=0, description="Largest file the command line imports, in bytes; "
                                      "unset: no limit.")
    cli_max_rows: int | None = Field(None, gt=0, description="Most data rows the command line imports from one "
                                     "file; unset: no limit.")
    cli_batch_rows: int = Field(200_000, ge=1, description="Rows the command line reads, checks and stages at a "
                                "time: what bounds its memory.")
    cli_batches_above_mb: int = Field(200, ge=0, description="Ticket CSVs larger than this (MB) the command line "
                                      "reads in batches; smaller ones whole, which is faster.")
    cli_memory_mb: int = Field(600, ge=100, description="Memory DuckDB may use while the command line imports, in "
                               "MB; beyond it, it spills to the warehouse's temp folder.")
    pii_salt: SecretStr | None = Field(
        None, description="Salt for hashing customer emails; unset, each warehouse makes and keeps its own."
    )
    link_window_days: int = Field(
        30, ge=0, le=366, description="A ticket with no order number links to its customer's newest order this many "
        "days before it."
    )
    load_demo_when_empty: bool = Field(True, description="Load the demo store when the warehouse has no data.")
    # --- the server's cache of query results, shared by every user (ui.session) ---
    cache_max_entries: int = Field(
        1024, ge=1, description="Most query results kept cached for all users; the least recently used goes first."
    )
    cache_max_mb: int = Field(
        512, ge=1, description="Most memory the cached query results may take, in MB (pickled); the least recently "
        "used go first."
    )
    # --- staffing (the Staffing page) ---
    country: str = Field(DEFAULT_COUNTRY,
                         description="Country whose national holidays mark peaks (ISO code; empty: none).")
    peak_volume_factor: float = Field(
        1.5, gt=1, description="A week is a peak when its tickets exceed the trailing 8-week median by this factor."
    )
    peak_events: list[PeakEvent] = Field(
        [], description='Custom peaks (JSON list): [{"name": ..., "start": "YYYY-MM-DD", "end": "YYYY-MM-DD"}].'
    )
    staffing_handle_minutes: dict[str, float] = Field(
        {"email": 8, "chat": 10, "phone": 6, "social": 5, "web": 8, "other": 8},
        description="Average handle time per channel, in minutes (JSON object); exports carry none today.",
    )
    staffing_live_channels: Annotated[tuple[str, ...], NoDecode] = Field(
        ("chat", "phone"), description="Channels answered live (Erlang C); the others use the workload model."
    )
    staffing_service_level: float = Field(
        0.8, gt=0, lt=1, description="Share of live contacts to answer within the answer target, 0-1."
    )
    staffing_answer_seconds: float = Field(20, ge=0, description="Answer target for live contacts, in seconds.")
    staffing_max_occupancy: float = Field(0.85, gt=0, le=1, description="Highest share of time agents are busy.")
    staffing_shrinkage: float = Field(
        0.3, ge=0, lt=1, description="Share of paid time not spent on contacts (breaks, training, absence)."
    )
    staffing_paid_hours: float = Field(8, gt=0, le=24, description="Paid hours in one agent's working day.")
    staffing_growth: float = Field(
        0.0, gt=-1, description="Expected change in contacts for what-ifs and the next peak: 0.2 = +20 %."
    )
    # --- retention (the Orders & loyalty page) ---
    admins: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="Who may do everything, clearing data too: emails or @domains, comma-separated."
    )
    analysts: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="Who may also import, undo imports and correct categories: emails or @domains."
    )
    viewers: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="Who may browse every page: emails or @domains, comma-separated."
    )
    access_contact: str = Field(
        "the person who shared this link", min_length=1,
        description="Whom a signed-in person without access is told to ask (a name or an address).",
    )
    auth_provider: str | None = Field(
        None, description="The [auth.NAME] section of secrets.toml to sign in with; unset: the [auth] section itself."
    )
    retention_days: int = Field(
        90, ge=1, le=730, description="Days after a customer's order within which a second order counts as a repeat."
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin") from exc
        return value

    @field_validator("business_days", mode="before")
    @classmethod
    def _parse_days(cls, value: object) -> tuple[str, ...]:
        days = value.split(",") if isinstance(value, str) else list(value)  # type: ignore[arg-type]
        days = [str(day).strip().lower()[:3] for day in days if str(day).strip()]
        unknown = [day for day in days if day not in WEEKDAYS]
        if unknown or not days:
            raise ValueError(f"expected weekdays from {', '.join(WEEKDAYS)}; got {value!r}")
        return tuple(day for day in WEEKDAYS if day in days)

    @field_validator("escalation_tags", "escalation_groups", "automation_tags", "staffing_live_channels",
                     mode="before")
    @classmethod
    def _parse_words(cls, value: object) -> tuple[str, ...]:
        words = value.split(",") if isinstance(value, str) else list(value)  # type: ignore[arg-type]
        return tuple(str(word).strip().lower() for word in words if str(word).strip())

    @field_validator("admins", "analysts", "viewers", mode="before")
    @classmethod
    def _parse_allow_list(cls, value: object) -> tuple[str, ...]:
        entries = value.split(",") if isinstance(value, str) else list(value)  # type: ignore[arg-type]
        entries = [str(entry).strip().lower() for entry in entries if str(entry).strip()]
        bad = [entry for entry in entries if entry.count("@") > 1 or entry.endswith("@") or " " in entry]
        if bad:
            raise ValueError(f"expected emails or domains such as ana@store.com or @store.com; got {bad}")
        # a bare domain means the same as @domain
        return tuple(entry if "@" in entry else "@" + entry for entry in entries)

    @field_validator("sla_first_reply_minutes", "sla_resolution_minutes", "sla_first_reply_minutes_by_priority",
                     "sla_resolution_minutes_by_priority")
    @classmethod
    def _positive_targets(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {channel: minutes for channel, minutes in value.items() if minutes <= 0}
        if bad:
            raise ValueError(f"targets must be positive minutes; got {bad}")
        return {channel.lower(): minutes for channel, minutes in value.items()}

    @field_validator("staffing_handle_minutes")
    @classmethod
    def _positive_handle_minutes(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {channel: minutes for channel, minutes in value.items() if not minutes > 0}
        if bad:
            raise ValueError(f"handle times must be positive minutes; got {bad}")
        return {channel.lower(): minutes for channel, minutes in value.items()}

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        code = value.strip().upper()
        if code and code != DEFAULT_COUNTRY:  # importing holidays to look it up costs every start a few tenths
            import holidays  # only here and in metrics.peaks: its calendars ship in the package, no network

            if code not in holidays.list_supported_countries():
                raise ValueError(f"no holiday calendar for country {value!r}; use an ISO code such as US or DE")
        return code

    @model_validator(mode="after")
    def _day_has_hours(self) -> Settings:
        if self.business_hours_end <= self.business_hours_start:
            raise ValueError(f"{ENV_PREFIX}BUSINESS_HOURS_END must be later than {ENV_PREFIX}BUSINESS_HOURS_START")
        return self

    @property
    def taxonomy_file(self) -> Path | None:
        if self.taxonomy_path is None:
            return None
        path = self.taxonomy_path.expanduser()
        return path if path.is_absolute() else PROJECT_ROOT / path

    @property
    def warehouse_file(self) -> Path:
        path = self.warehouse_path.expanduser()
        return path if path.is_absolute() else PROJECT_ROOT / path


def describe_error(error: ValidationError) -> str:
    """One line per bad setting, naming the environment variable a person would change."""
    lines = []
    for item in error.errors():
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{ENV_PREFIX}{str(item['loc'][0]).upper()}: {message}" if item["loc"] else message)
    return "Invalid setting — " + "; ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Read the settings now; raise SettingsError with a readable message when a value is bad."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise SettingsError(describe_error(error)) from None


@functools.cache
def get_settings() -> Settings:
    return load_settings()
