"""One way to read numbers and ids from a request (query strings, forms, htmx posts).

Python's int() accepts what no shopper typed and no database stores: "²" and "１" (non-ASCII
digits), " 7 ", "1_000", numbers past PostgreSQL's integer range. Every view reads numbers through
these functions, which accept plain ASCII digits only and check the database's limits before a
query is made, so bad input becomes a clear refusal, never a 500.
"""

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


def id_or_none(raw):
    try:
        return parse_id(raw)
    except ValueError:
        return None
