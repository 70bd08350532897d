"""Settings from CSPULSE_ variables and .env: defaults, parsing, errors naming the variable, the README table."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import time
from pathlib import Path

import pytest

from settings import PROJECT_ROOT, Settings, SettingsError, load_settings


def test_settings_default_to_utc_weekdays_nine_to_six_and_no_salt() -> None:
    settings = load_settings(_env_file=None)
    assert settings.timezone == "UTC"
    assert settings.business_days == ("mon", "tue", "wed", "thu", "fri")
    assert (settings.business_hours_start, settings.business_hours_end) == (time(9), time(18))
    assert settings.pii_salt is None


def test_settings_relative_warehouse_path_is_from_the_project_folder() -> None:
    settings = load_settings(_env_file=None, warehouse_path="data/x.duckdb")
    assert settings.warehouse_file == PROJECT_ROOT / "data" / "x.duckdb"


def test_settings_read_prefixed_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """CSPULSE_ variables are read; weekdays are trimmed, lower-cased, put in week order; SLA channels lower-cased."""
    monkeypatch.setenv("CSPULSE_TIMEZONE", "Europe/Berlin")
    monkeypatch.setenv("CSPULSE_BUSINESS_DAYS", "Sat, sun ,mon")
    monkeypatch.setenv("CSPULSE_SLA_FIRST_REPLY_MINUTES", '{"Email": 60, "chat": 3}')
    settings = load_settings(_env_file=None)
    assert settings.timezone == "Europe/Berlin"
    assert settings.business_days == ("mon", "sat", "sun")
    assert settings.sla_first_reply_minutes == {"email": 60, "chat": 3}


def test_settings_read_a_dotenv_file(tmp_path: Path) -> None:
    """A .env file is read, and the salt it sets never shows in the settings' repr."""
    env = tmp_path / ".env"
    env.write_text("CSPULSE_CSAT_GOOD_MIN_SCORE=5\nCSPULSE_PII_SALT=pepper\n")
    settings = load_settings(_env_file=env)
    assert settings.csat_good_min_score == 5
    assert settings.pii_salt is not None and settings.pii_salt.get_secret_value() == "pepper"
    assert "pepper" not in repr(settings)


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("CSPULSE_TIMEZONE", "Mars/Olympus", "unknown time zone"),
        ("CSPULSE_UPLOAD_MAX_ROWS", "lots", "valid integer"),
        ("CSPULSE_BUSINESS_DAYS", "mon,funday", "expected weekdays"),
        ("CSPULSE_CSAT_GOOD_MIN_SCORE", "9", "less than or equal to 5"),
        ("CSPULSE_SLA_RESOLUTION_MINUTES", '{"email": -5}', "positive"),
    ],
)
def test_settings_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str,
                                               says: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None)
    assert variable in str(caught.value) and says in str(caught.value)


def test_settings_business_day_must_end_after_it_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSPULSE_BUSINESS_HOURS_END", "08:00")
    with pytest.raises(SettingsError, match="CSPULSE_BUSINESS_HOURS_END must be later"):
        load_settings(_env_file=None)


def test_settings_bad_value_stops_the_report_with_a_message_not_a_traceback(tmp_path: Path) -> None:
    env = {"CSPULSE_TIMEZONE": "Nowhere/Land", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "metrics.report", "--json"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "CSPULSE_TIMEZONE" in done.stderr and "Traceback" not in done.stderr


def test_readme_settings_table_lists_every_setting_and_no_other() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `(CSPULSE_[A-Z_]+)` \|", readme, flags=re.MULTILINE))
    assert documented == {f"CSPULSE_{name.upper()}" for name in Settings.model_fields}
