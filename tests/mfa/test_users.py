"""Phone numbers: E.164 and the country that decides the sender."""

from __future__ import annotations

import pytest

from mfa import InvalidInput, parse_phone


@pytest.mark.parametrize(
    ("raw", "e164", "country"),
    [
        ("+1 425 555 0100", "+14255550100", "US"),
        ("+1 (613) 555-0123", "+16135550123", "CA"),
        ("+33 6 12 34 56 78", "+33612345678", "FR"),
        (" +447400123456 ", "+447400123456", "GB"),
    ],
)
def test_valid_numbers(raw: str, e164: str, country: str) -> None:
    phone = parse_phone(raw)
    assert (phone.e164, phone.country) == (e164, country)


@pytest.mark.parametrize("raw", ["", "   ", "4255550100", "+1 555", "+999 1234567", "+1 abc"])
def test_invalid_numbers_name_the_field(raw: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_phone(raw, field_name="users[3].phone")
    assert info.value.field == "users[3].phone"
