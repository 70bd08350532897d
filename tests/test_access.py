"""Who may see and do what: the allow-list's roles, the gate in front of every page, and every write going through
the one role check (``ui.session.act``), also when a button press is replayed against a disabled button."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from streamlit import config
from streamlit.testing.v1 import AppTest

from data.demo import DEMO_SOURCE
from data.ingest import Batch, import_batch
from data.warehouse import Warehouse
from settings import SettingsError, load_settings
from tests.conftest import ORDERS, PROJECT, TICKETS, load_fixture, warehouse_file
from ui import access

pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")
DASHBOARD = str(PROJECT / "dashboard.py")
AUTH = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "test-secret",
        "client_id": "cs-pulse", "client_secret": "s", "server_metadata_url": "http://127.0.0.1:1/.well-known/x"}
TEAM = {"CSPULSE_ADMINS": "boss@store.com", "CSPULSE_ANALYSTS": "ana@store.com",
        "CSPULSE_VIEWERS": "@store.com", "CSPULSE_ACCESS_CONTACT": "Bo in support ops"}


# --- the allow-list -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("email", "role"), [
    ("boss@store.com", "admin"),           # listed as admin, and as a viewer by its domain: the higher role
    ("Ana@Store.COM ", "analyst"),         # case and spaces do not matter
    ("vi@store.com", "viewer"),            # by the domain
    ("vi@evilstore.com", None),            # a domain matches whole, not as a suffix
    ("vi@mail.store.com", None),           # nor its subdomains
    ("store.com@gmail.com", None),         # the domain is what follows the last @
    ("stranger@gmail.com", None),
])
def test_the_allow_list_gives_the_highest_role_listed(email: str, role: str | None) -> None:
    settings = load_settings(admins="boss@store.com", analysts="ana@store.com", viewers="store.com")
    assert access.role_for(email, settings) == role


def test_allow_list_entries_are_read_from_a_comma_separated_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSPULSE_ANALYSTS", " Ana@Store.com, agency.io ,")
    assert load_settings().analysts == ("ana@store.com", "@agency.io")
    monkeypatch.setenv("CSPULSE_ADMINS", "ana@@store.com")
    with pytest.raises(SettingsError, match="CSPULSE_ADMINS"):
        load_settings()


@pytest.mark.parametrize(("role", "action", "allowed"), [
    ("viewer", "import", False), ("viewer", "correct_category", False), ("viewer", "clear_data", False),
    ("analyst", "import", True), ("analyst", "undo_import", True), ("analyst", "correct_category", True),
    ("analyst", "clear_data", False), ("analyst", "load_demo", False),
    ("admin", "clear_data", True), ("admin", "load_demo", True), ("admin", "import", True),
])
def test_each_role_may_do_what_the_ones_below_it_may(role: str, action: str, allowed: bool) -> None:
    assert access.allows(role, action) is allowed


def test_a_refusal_says_who_may_and_what_you_are() -> None:
    assert access.refusal("viewer", "import") == \
        "Only an analyst or an admin may import files; you are signed in as a viewer."
    assert access.refusal("analyst", "clear_data") == \
        "Only an admin may remove data from the warehouse; you are signed in as an analyst."


@pytest.mark.parametrize(("address", "client", "headers", "local"), [
    ("127.0.0.1", None, [], True), ("localhost", None, [], True), ("::1", "::1", [], True),
    ("127.0.0.2", "127.0.0.1", ["Host"], True),
    (None, None, [], False),                      # Streamlit's default: every interface
    ("0.0.0.0", None, [], False), ("192.168.1.5", None, [], False), ("dashboard.store.com", None, [], False),
    ("127.0.0.1", "10.0.0.7", [], False),         # a browser on another machine, however it got here
    ("127.0.0.1", None, ["X-Forwarded-For"], False),  # a proxy on this machine would pass the world in
    ("127.0.0.1", None, ["forwarded"], False),
])
def test_without_sign_in_only_a_loopback_address_reached_directly_counts_as_private(
        address: str | None, client: str | None, headers: list[str], local: bool) -> None:
    assert access.served_locally(address, client, headers) is local


# --- the gate, page by page -----------------------------------------------------------------------------------------
def _demo_tickets(wh: Warehouse) -> None:
    """The fixture, its tickets marked as the demo store's: what 'clear the demo' removes, in a few rows."""
    load_fixture(wh)
    demo = TICKETS.with_columns(source=pl.lit(DEMO_SOURCE), ticket_id=pl.lit("D-") + pl.col("ticket_id"))
    import_batch(wh, Batch("demo", "sha-demo", DEMO_SOURCE, "tickets", {"tickets": demo}))


@pytest.fixture
def team_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in TEAM.items():
        monkeypatch.setenv(name, value)
    return warehouse_file(monkeypatch, tmp_path / "team.duckdb", _demo_tickets)


def _count(path: Path, table: str = "tickets") -> int:
    wh = Warehouse(path)
    try:
        return wh.row_count(table)
    finally:
        wh.close()


def _as(email: str | None, page: str | None = None, verified: bool | None = True) -> AppTest:
    app = AppTest.from_file(DASHBOARD, default_timeout=60)
    app.secrets["auth"] = AUTH
    if email is not None:
        app.user = {"is_logged_in": True, "email": email, **({} if verified is None else {"email_verified": verified})}
    else:
        app.user = {"is_logged_in": False}
    app.run()
    if page:
        app.switch_page(page).run()
    return app


def _texts(app: AppTest) -> str:
    return " ".join(str(element.value) for kind in ("markdown", "caption", "error", "info", "title")
                    for element in getattr(app, kind))


def test_a_signed_out_visitor_sees_only_the_sign_in(team_file: Path) -> None:
    app = _as(None)
    assert not app.exception
    assert [title.value for title in app.title] == ["CS Pulse"]
    assert [button.label for button in app.button] == ["Sign in"]
    assert not app.metric and not app.sidebar.date_input and not app.dataframe


def test_a_signed_in_stranger_is_refused_and_told_whom_to_ask(team_file: Path) -> None:
    app = _as("stranger@gmail.com")
    assert not app.exception and not app.metric
    assert "stranger@gmail.com" in app.error[0].value and "Ask Bo in support ops to add you" in app.error[0].value
    assert [button.label for button in app.button] == ["Sign out"]


def test_an_unverified_email_is_refused_even_when_listed(team_file: Path) -> None:
    app = _as("boss@store.com", verified=False)
    assert not app.metric and "verified email" in app.error[0].value


def test_a_provider_that_says_nothing_of_verification_is_taken_at_its_word(team_file: Path) -> None:
    app = _as("vi@store.com", verified=None)  # e.g. Entra ID's optional email claim has no email_verified
    assert not app.error and app.metric


def test_a_viewer_browses_but_has_no_import_page_not_even_by_its_address(team_file: Path) -> None:
    app = _as("vi@store.com")
    assert not app.exception and app.metric
    assert "Signed in as vi@store.com (viewer)" in _texts(app)
    with pytest.raises(ValueError, match="Could not find a navigation page"):  # not registered: no URL reaches it
        app.switch_page("app_pages/imports.py")


def test_a_viewer_replaying_the_clear_button_is_refused_and_nothing_is_removed(team_file: Path) -> None:
    before = _count(team_file)
    app = _as("vi@store.com", "app_pages/data.py")
    button = app.button(key="clear_demo_controls")
    assert button.disabled and "Only an admin" in (button.help or "")
    _forge_press(button, app)
    assert not app.exception
    assert _count(team_file) == before


def _forge_press(button: object, app: AppTest) -> None:
    """Send the press of a disabled button, as a replayed or hand-made widget message would (AppTest, like a
    browser, refuses to press a disabled button)."""
    button.proto.disabled = False  # type: ignore[attr-defined]
    button.click()  # type: ignore[attr-defined]
    app.run()


def _act_as(role: str) -> None:
    """A script that tries to clear the demo as ``role`` through session.act, past every page and button."""
    import streamlit as st

    from data import demo, ingest
    from ui import access, session

    st.session_state["_person"] = access.Person(email="someone@store.com", role=role)
    try:
        session.act("clear_data", ingest.clear_source, demo.DEMO_SOURCE)
        st.success("cleared")
    except access.Refused as error:
        st.error(str(error))


@pytest.mark.parametrize(("role", "removed"), [("viewer", 0), ("analyst", 0), ("admin", len(TICKETS))])
def test_the_role_check_itself_refuses_a_write_whatever_sent_it(team_file: Path, role: str, removed: int) -> None:
    before = _count(team_file)
    app = AppTest.from_function(_act_as, args=(role,), default_timeout=60).run()
    assert not app.exception
    assert _count(team_file) == before - removed
    if removed == 0:
        assert app.error[0].value == f"Only an admin may remove data from the warehouse; you are signed in as " \
                                     f"{'an' if role == 'analyst' else 'a'} {role}."


def test_an_analyst_may_undo_an_import_but_not_clear_the_demo(team_file: Path) -> None:
    app = _as("ana@store.com", "app_pages/data.py")
    assert app.button(key="clear_demo_controls").disabled
    _forge_press(app.button(key="clear_demo_controls"), app)
    assert _count(team_file) == len(TICKETS) * 2
    app.switch_page("app_pages/imports.py").run()
    assert app.get("file_uploader")
    app.button(key="undo").click().run()  # the newest import: the demo's tickets
    assert not app.exception
    assert _count(team_file) == len(TICKETS)


def test_an_admin_clears_the_demo(team_file: Path) -> None:
    app = _as("boss@store.com", "app_pages/data.py")
    app.button(key="clear_demo_controls").click().run()
    assert not app.exception
    assert _count(team_file) == len(TICKETS)
    assert _count(team_file, "orders") == ORDERS.height


def test_a_viewer_replaying_a_category_correction_is_refused(team_file: Path) -> None:
    app = _as("vi@store.com", "app_pages/complaints.py")
    submit = next(button for button in app.button if button.label == "Save correction")
    assert submit.disabled and "Only an analyst or an admin may correct" in (submit.help or "")
    _forge_press(submit, app)
    assert not app.exception
    wh = Warehouse(team_file)
    try:
        assert wh.cursor().execute("SELECT count(*) FROM tickets WHERE category_source = 'analyst'").fetchone()[0] == 0
    finally:
        wh.close()


def test_sign_out_is_offered_to_a_signed_in_person(team_file: Path) -> None:
    app = _as("ana@store.com")
    app.sidebar.button(key="sign_out").click().run()
    assert app.user == {"is_logged_in": False}  # st.logout cleared the session's user
    app.run()  # where the browser, sent to the sign-out, comes back
    assert [button.label for button in app.button] == ["Sign in"]


# --- private to this machine ----------------------------------------------------------------------------------------
@pytest.fixture
def fixture_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return warehouse_file(monkeypatch, tmp_path / "local.duckdb", load_fixture)


@pytest.fixture
def every_interface() -> Iterator[None]:
    config.set_option("server.address", "0.0.0.0", "test")
    yield
    config.set_option("server.address", "127.0.0.1", "test")


def test_without_sign_in_every_page_says_it_is_private_to_this_machine(fixture_file: Path) -> None:
    app = AppTest.from_file(DASHBOARD, default_timeout=60).run()
    for page in sorted(path.name for path in (PROJECT / "app_pages").glob("*.py")):
        app.switch_page(f"app_pages/{page}").run()
        assert not app.exception, page
        assert any("Private to this machine" in caption.value for caption in app.sidebar.caption), page


def test_without_sign_in_on_a_public_address_nothing_is_served(fixture_file: Path, every_interface: None) -> None:
    app = AppTest.from_file(DASHBOARD, default_timeout=60).run()
    assert not app.exception and not app.metric and not app.sidebar.date_input
    assert "serves only this machine" in app.error[0].value and "Deploy for a team" in app.error[0].value


# --- one place for every write --------------------------------------------------------------------------------------
# The data layer's writers a page could call. Each must reach the warehouse through session.act (named, not called),
# so that no page can write without the role check. ui/session.py's own derivations after a change are the system's
# work, not a person's action.
WRITERS = {"run_plan", "undo_import", "clear_source", "save_mapping", "save_category_column", "save_source_zone",
           "correct", "categorise", "apply_store_mapping", "import_batch", "load_demo", "link_if_stale"}
SYSTEM = {("ui/session.py", "warehouse"), ("ui/session.py", "load_demo"), ("ui/session.py", "_derive"),
          ("ui/session.py", "_load_demo_if_empty")}  # the demo store, while a first start opens the warehouse


def _calls_of_writers(path: Path) -> list[tuple[str, int]]:
    """(enclosing function or "<module>", line) of every call of a writer in ``path``."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        if isinstance(node, ast.Call):
            callee = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if callee in WRITERS:
                found.append((function, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(ast.parse(path.read_text(encoding="utf-8")), "<module>")
    return found


def test_no_page_calls_a_writer_except_through_the_role_check() -> None:
    rogue = []
    paths = [*(PROJECT / "ui").glob("*.py"), *(PROJECT / "app_pages").glob("*.py"), PROJECT / "dashboard.py"]
    for path in sorted(paths):
        relative = str(path.relative_to(PROJECT))
        rogue += [f"{relative}:{line} in {name}" for name, line in _calls_of_writers(path)
                  if (relative, name) not in SYSTEM]
    assert rogue == []


def test_the_writer_scan_finds_a_direct_call(tmp_path: Path) -> None:
    sample = tmp_path / "page.py"
    sample.write_text("def f(wh):\n    ingest.clear_source(wh, 'demo')\n\n"
                      "def g():\n    act('clear_data', clear_source)\nrun_plan(wh, plan)\n")
    assert _calls_of_writers(sample) == [("f", 2), ("<module>", 6)]
