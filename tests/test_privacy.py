"""Personal data: customer keys instead of emails, masked emails and phone numbers in text shown."""

from __future__ import annotations

import hashlib

import polars as pl

from data.privacy import customer_key, customer_keys, mask_pii


def cells(*values: str | None) -> pl.Series:
    return pl.Series("cells", list(values), dtype=pl.String)


def test_customer_key_is_a_salted_hash_of_the_normalised_email() -> None:
    key = customer_key("  Ada@Example.com ", "salt")
    assert key == customer_key("ada@example.com", "salt") != customer_key("ada@example.com", "other")
    assert key == int.from_bytes(hashlib.sha256(b"saltada@example.com").digest()[:8], "big")
    assert customer_key("", "salt") is None and customer_key(None, "salt") is None


def test_customer_keys_hash_normalised_emails_once_each() -> None:
    keys = customer_keys(pl.Series([" Ada@Example.com", "ada@example.com", None, "", " \t"]), "salt")
    assert keys.to_list()[:2] == [customer_key("ada@example.com", "salt")] * 2
    assert keys.to_list()[2:] == [None, None, None]


def test_customer_keys_normalise_non_ascii_emails_as_python_does() -> None:
    # Polars trims and lower-cases the column; the scalar key uses str.strip().lower(): they must agree.
    emails = ["\tZoë@ÉXAMPLE.com\n", "İstanbul@Example.tr", "\u00a0kai@example.com\u3000"]
    assert customer_keys(pl.Series(emails), "salt").to_list() == [customer_key(e, "salt") for e in emails]


def test_mask_pii_keeps_an_emails_first_letter_and_domain() -> None:
    masked = mask_pii(cells("from jane.doe+x@shop.example.com today", "a@b.co", None))
    assert masked.to_list() == ["from j***@shop.example.com today", "a***@b.co", None]


def test_mask_pii_keeps_only_a_phone_numbers_last_four_digits() -> None:
    masked = mask_pii(cells("call +1 (555) 123-4567 now", "030 1234 5678", "+4915112345678", "555.123.4567"))
    assert masked.to_list() == ["call ***-4567 now", "***-5678", "***-5678", "***-4567"]


def test_mask_pii_leaves_ids_dates_and_short_numbers() -> None:
    text = ["order 6798481555755", "on 2024-03-31 19:46:45", "31.12.2023", "room 555-12", "#1051"]
    assert mask_pii(cells(*text)).to_list() == text
