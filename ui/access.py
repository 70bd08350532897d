"""Who may see and do what. The one place a role is checked: every page chooses its pages and every write goes
through here (``session.act``), so a crafted link or a replayed button press meets the same rule as a click.

Without ``[auth]`` in ``.streamlit/secrets.toml`` CS Pulse is private to this machine: it answers only on a loopback
address, and whoever sits at the machine is its admin. With ``[auth]``, Streamlit's OpenID Connect sign-in
(``st.login``) says who someone is, and the allow-list in the settings says what they may do.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from settings import Settings

log = logging.getLogger("cspulse")

ROLES = ("viewer", "analyst", "admin")  # each may do what the ones before it may
# What each action needs: the least role, and the words a refusal uses.
ACTIONS: dict[str, tuple[str, str]] = {
    "import": ("analyst", "import files"),
    "map_columns": ("analyst", "save how an export's columns are read"),
    "undo_import": ("analyst", "undo an import"),
    "correct_category": ("analyst", "correct or re-categorise tickets"),
    "clear_data": ("admin", "remove data from the warehouse"),
    "load_demo": ("admin", "load the demo store"),
}
# A page that exists only to act needs the action's role to be listed at all.
PAGE_ACTIONS = {"imports": "import"}
LOCAL_ROLE = "admin"  # the person at the machine owns the warehouse file anyway


class Refused(PermissionError):
    """An action the current person's role does not allow; the message says why, in words."""


@dataclass(frozen=True)
class Person:
    email: str | None  # None on a dashboard private to this machine
    role: str

    @property
    def local(self) -> bool:
        return self.email is None


# --- the allow-list -------------------------------------------------------------------------------------------------
def role_for(email: str, settings: Settings) -> str | None:
    """The highest role the allow-list gives ``email``, by the address itself or by its domain (``@store.com``);
    None when it lists neither. A domain matches exactly: ``@store.com`` does not let ``evilstore.com`` in."""
    address = email.strip().lower()
    domain = "@" + address.rpartition("@")[2]
    granted = None
    for role, entries in (("viewer", settings.viewers), ("analyst", settings.analysts), ("admin", settings.admins)):
        if address in entries or domain in entries:
            granted = role
    return granted


def allows(role: str, action: str) -> bool:
    return ROLES.index(role) >= ROLES.index(ACTIONS[action][0])


def refusal(role: str, action: str) -> str:
    needed, words = ACTIONS[action]
    who = "an admin" if needed == "admin" else f"an {needed} or an admin"
    article = "an" if role[0] in "aeiou" else "a"
    return f"Only {who} may {words}; you are signed in as {article} {role}."


# --- the current person ---------------------------------------------------------------------------------------------
def sign_in_configured() -> bool:
    """Whether ``[auth]`` is in the secrets: then every visitor signs in."""
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        return False


def gate(settings: Settings) -> Person:
    """The person this session serves, or the sign-in, a refusal or the private-machine notice and a stop: nothing
    of the data is drawn before this returns."""
    if not sign_in_configured():
        if not served_locally(st.get_option("server.address"), _client_address(), st.context.headers.keys()):
            _stop_not_private()
        person = Person(email=None, role=LOCAL_ROLE)
    elif not st.user.get("is_logged_in"):
        _stop_signed_out(settings)
    else:
        person = _signed_in_person(settings)
    st.session_state["_person"] = person
    return person


def current() -> Person:
    """Who this run serves; set by ``gate`` at the top of every run, before any page."""
    return st.session_state["_person"]


def may(action: str) -> bool:
    return allows(current().role, action)


def require(action: str) -> None:
    """Raise ``Refused`` unless the current person may do ``action``."""
    person = current()
    if not allows(person.role, action):
        log.warning("refused %s to a %s", action, person.role)  # never the address: staff emails are personal too
        raise Refused(refusal(person.role, action))


def may_see_page(page: str) -> bool:
    action = PAGE_ACTIONS.get(page)
    return action is None or may(action)


PROXY_HEADERS = frozenset({"x-forwarded-for", "forwarded", "x-real-ip"})


def served_locally(address: str | None, client: str | None, header_names: Iterable[str]) -> bool:
    """Bound to a loopback address, and reached from this machine directly: not through a proxy, which would pass
    the world in. ``client`` is the browser's address (Streamlit gives None for localhost)."""
    return _loopback(address) and (client is None or _loopback(client)) \
        and not any(name.lower() in PROXY_HEADERS for name in header_names)


def _client_address() -> str | None:
    address = st.context.ip_address
    return address if isinstance(address, str) else None  # None: localhost; AppTest's mock runtime gives no string


def _loopback(address: str | None) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:  # unset (every interface) or a host name
        return False


def _signed_in_person(settings: Settings) -> Person:
    email = st.user.get("email")
    if not isinstance(email, str) or not email or st.user.get("email_verified") is False:
        _stop_refused("Your sign-in did not give a verified email address, which CS Pulse needs to know your role.",
                      settings)
    role = role_for(email, settings)
    if role is None:
        _stop_refused(f"**{email}** has no access to this dashboard.", settings)
    return Person(email=email, role=role)


# --- what someone sees instead of the dashboard ---------------------------------------------------------------------
def _stop_signed_out(settings: Settings) -> None:
    st.title("CS Pulse")
    st.markdown("This dashboard is private to its team. Sign in to see it.")
    if st.button("Sign in", type="primary", key="sign_in"):
        st.login(settings.auth_provider)  # redirects; the visitor comes back signed in
    st.stop()


def _stop_refused(reason: str, settings: Settings) -> None:
    st.title("CS Pulse")
    st.error(f"{reason} Ask {settings.access_contact} to add you.", icon=":material/block:")
    if st.button("Sign out", key="sign_out_refused"):
        st.logout()
    st.stop()


def _stop_not_private() -> None:
    st.title("CS Pulse")
    st.error("CS Pulse is not serving this address: without sign-in configured it serves only this machine "
             "(127.0.0.1), and this server listens on another address or sits behind a proxy. Configure sign-in "
             "(`[auth]` in `.streamlit/secrets.toml` and the allow-list) to share it: see \"Deploy for a team\" in "
             "the README.", icon=":material/lock:")
    st.stop()


def sidebar(person: Person) -> None:
    """Who is signed in and the way out; on a private dashboard, that it is private and how to share it."""
    with st.sidebar:
        if person.local:
            st.caption(":material/lock: **Private to this machine.** Without sign-in CS Pulse answers only on "
                       "127.0.0.1. To share it with a team, configure sign-in and an allow-list: see "
                       "\"Deploy for a team\" in the README.")
            st.divider()
            return
        st.caption(f"Signed in as {person.email} ({person.role})")
        if st.button("Sign out", key="sign_out"):
            st.logout()  # the browser is sent to the sign-out; this run's last lines are not seen
        st.divider()
