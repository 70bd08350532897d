"""Personal data: how it stays out of the warehouse and off the screen.

An email becomes a customer key, the first 64 bits of the salted sha256 of the normalised address, which joins a
customer's tickets and orders without storing the address (:func:`customer_key` for one, :func:`customer_keys` for a
column). Text shown or downloaded has emails and phone numbers masked (:func:`mask_pii`).
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
import polars as pl


def customer_key(email: str | None, salt: str) -> int | None:
    """The customer's key: the first 64 bits of the salted sha256 of the normalised email.

    It joins a customer's tickets and orders without storing the email. An integer, not hex text: a million
    random 64-character strings took DuckDB a second to store, an integer column nothing; and 64 bits make a
    collision between two customers of even ten million unlikely (about 3 in a million).
    """
    if email is None or not email.strip():
        return None
    return key_from_digest(hashlib.sha256((salt + email.strip().lower()).encode()))


def key_from_digest(digest: hashlib._Hash) -> int:  # type: ignore[name-defined]
    return int.from_bytes(digest.digest()[:8], "big")


def customer_keys(emails: pl.Series, salt: str) -> pl.Series:
    """Salted sha256 of normalised emails, the same digest as :func:`customer_key`, for a whole column.

    A customer writes many times: each distinct cell is normalised and hashed once, and the keys are joined back
    onto the rows.
    """
    raw = emails.cast(pl.String).alias("email")
    distinct = raw.unique().drop_nulls()  # in this order the nulls are dropped from the few distinct cells
    keys = pl.DataFrame({"email": distinct, "key": _salted_keys(distinct, salt)})
    return raw.to_frame().join(keys, on="email", how="left", maintain_order="left")["key"].alias(emails.name)


def _salted_keys(cells: pl.Series, salt: str) -> pl.Series:
    """:func:`customer_key` of each cell (null for a blank one), hashed from a copy of the salted state.

    Polars trims and lower-cases on every core and hands over UTF-8 bytes, so the loop that holds the GIL only
    hashes; the first 8 bytes of every digest go into one buffer read as big-endian integers.
    """
    emails = cells.str.strip_chars().str.to_lowercase()
    salted = hashlib.sha256(salt.encode())
    prefixes = bytearray()
    for email in emails.cast(pl.Binary).to_list():
        digest = salted.copy()
        digest.update(email)
        prefixes += digest.digest()[:8]
    keys = pl.Series("key", np.frombuffer(bytes(prefixes), ">u8").astype(np.uint64), pl.UInt64)
    return keys.set(emails == "", None)


# --- personal data in displayed text ----------------------------------------------------------------------------------

_EMAIL = r"([A-Za-z0-9])[A-Za-z0-9._%+\-]*@([A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)"
# Seven or more digits, each pair at most two separators apart; the Python check below decides on distinct hits.
_PHONE_CANDIDATE = r"\+?\(?[0-9](?:[ ().\-]{0,2}[0-9]){6,}"
_DATE_LIKE = re.compile(r"[0-9]{4}[-./][0-9]{1,2}[-./][0-9]{1,2}|[0-9]{1,2}[-./][0-9]{1,2}[-./][0-9]{2,4}(?:[^0-9]|$)")
_SEPARATED = re.compile(r"[0-9][ ().\-]+[0-9]")


def mask_pii(s: pl.Series) -> pl.Series:
    """Text for display with emails and phone numbers masked.

    "jane.doe@shop.com" -> "j***@shop.com"; "+1 (555) 123-4567" or "030 1234 5678" -> "***-4567". A phone is 7 to
    15 digits written with a leading "+" or with separators (space, dot, dash, parentheses); a bare run of digits
    is left alone because in support text it is usually an order or tracking number, and so are dates.
    """
    text = s.cast(pl.String).str.replace_all(_EMAIL, "${1}***@${2}")
    candidates = text.str.extract_all(_PHONE_CANDIDATE).explode().drop_nulls().unique().to_list()
    if not candidates:
        return text.alias(s.name)
    # Longest first with leftmost matching: a candidate left as is shields the shorter ones found inside it.
    candidates.sort(key=lambda c: (-len(c), c))
    masks = [_masked_phone(candidate) for candidate in candidates]
    return text.str.replace_many(candidates, masks, leftmost=True).alias(s.name)


def _masked_phone(candidate: str) -> str:
    digits = re.sub(r"[^0-9]", "", candidate)
    separated = candidate.startswith("+") or _SEPARATED.search(candidate) is not None
    if len(digits) > 15 or not separated or _DATE_LIKE.match(candidate):
        return candidate
    return "***-" + digits[-4:]
