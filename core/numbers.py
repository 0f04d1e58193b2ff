"""One way to read numbers and ids from a request (query strings, forms, htmx posts).

Python's int() accepts what no shopper typed and no database stores: "²" and "１" (non-ASCII
digits), " 7 ", "1_000", numbers past PostgreSQL's integer range. Every view reads numbers through
these functions, which accept plain ASCII digits only and check the database's limits before a
query is made, so bad input becomes a clear refusal, never a 500. Forms use IntegerField below.
"""

from django import forms
from django.core.exceptions import ValidationError

INT_MAX = 2**31 - 1  # PostgreSQL integer (IntegerField, PositiveIntegerField)
BIGINT_MAX = 2**63 - 1  # PostgreSQL bigint (BigAutoField ids)


def parse_int(raw, *, minimum=0, maximum=INT_MAX):
    """The integer `raw` spells in ASCII digits (an optional leading "-" when `minimum` < 0),
    within [minimum, maximum]; ValueError otherwise. Ints pass through the same range check;
    bools, floats and anything else are refused."""
    if isinstance(raw, bool):
        raise ValueError("not a number")
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str):
        text = raw.strip()
        negative = text.startswith("-") and minimum < 0
        digits = text[1:] if negative else text
        if not digits or len(digits) > 20 or not (digits.isascii() and digits.isdigit()):
            raise ValueError("not a number")
        value = -int(digits) if negative else int(digits)
    else:
        raise ValueError("not a number")
    if not (minimum <= value <= maximum):
        raise ValueError("out of range")
    return value


def parse_id(raw):
    """A primary key from a request: a positive integer within bigint; ValueError otherwise."""
    return parse_int(raw, minimum=1, maximum=BIGINT_MAX)


def int_or_none(raw, **limits):
    """parse_int, or None for anything it refuses (for optional filters and ?page=)."""
    try:
        return parse_int(raw, **limits)
    except ValueError:
        return None


def page_number(raw, maximum=10_000):
    """A ?page= number from 1 to `maximum` (a page past it is `maximum`: a larger OFFSET would be
    refused by PostgreSQL); 1 for anything parse_int refuses."""
    return min(int_or_none(raw, minimum=1, maximum=BIGINT_MAX) or 1, maximum)


def id_or_none(raw):
    try:
        return parse_id(raw)
    except ValueError:
        return None


class IntegerField(forms.IntegerField):
    """A form's whole number, read by parse_int: ASCII digits only ("²", "١٢٣" and "１２" are not
    numbers), and within PostgreSQL's integer range unless narrower limits are given, so a valid
    form never fails at the database. Use it instead of forms.IntegerField."""

    def __init__(self, *, min_value=-INT_MAX - 1, max_value=INT_MAX, **kwargs):
        super().__init__(min_value=min_value, max_value=max_value, **kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return parse_int(value if isinstance(value, int) else str(value), minimum=-BIGINT_MAX - 1,
                             maximum=BIGINT_MAX)
        except ValueError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
