"""CS Pulse settings: environment variables prefixed ``CSPULSE_`` or an optional ``.env`` file.

Read by every layer. A bad value raises :class:`SettingsError` naming the setting, so start-up stops with a
message a person can act on instead of a traceback.
"""

from __future__ import annotations

import functools
from datetime import time
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ENV_PREFIX = "CSPULSE_"


class SettingsError(ValueError):
    """A setting has a value CS Pulse cannot use; the message names the variable."""


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
    min_sample: int = Field(20, ge=1, description="A value over fewer tickets than this is marked as a small sample.")
    csat_good_min_score: int = Field(
        4, ge=1, le=5, description="CSAT rule: a 1-5 rating at or above this counts as satisfied; Good/Bad as is."
    )
    upload_max_bytes: int = Field(200_000_000, gt=0, description="Largest upload accepted, in bytes.")
    upload_max_rows: int = Field(2_000_000, gt=0, description="Most data rows accepted in one file.")
    upload_max_columns: int = Field(300, gt=0, description="Most columns accepted in one file.")
    pii_salt: SecretStr | None = Field(
        None, description="Salt for hashing customer emails; unset, each warehouse makes and keeps its own."
    )
    load_demo_when_empty: bool = Field(True, description="Load the demo store when the warehouse has no data.")

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

    @field_validator("escalation_tags", "escalation_groups", "automation_tags", mode="before")
    @classmethod
    def _parse_words(cls, value: object) -> tuple[str, ...]:
        words = value.split(",") if isinstance(value, str) else list(value)  # type: ignore[arg-type]
        return tuple(str(word).strip().lower() for word in words if str(word).strip())

    @field_validator("sla_first_reply_minutes", "sla_resolution_minutes", "sla_first_reply_minutes_by_priority",
                     "sla_resolution_minutes_by_priority")
    @classmethod
    def _positive_targets(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {channel: minutes for channel, minutes in value.items() if minutes <= 0}
        if bad:
            raise ValueError(f"targets must be positive minutes; got {bad}")
        return {channel.lower(): minutes for channel, minutes in value.items()}

    @model_validator(mode="after")
    def _day_has_hours(self) -> Settings:
        if self.business_hours_end <= self.business_hours_start:
            raise ValueError(f"{ENV_PREFIX}BUSINESS_HOURS_END must be later than {ENV_PREFIX}BUSINESS_HOURS_START")
        return self

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
