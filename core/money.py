"""The one module that owns money arithmetic and rounding.

Money is Decimal yuan with two places everywhere inside the system. Gateways get their own
format only at the boundary: WeChat Pay wants integer fen, Alipay a yuan string.
"""

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

FEN = Decimal("0.01")
ZERO = Decimal("0.00")


class MoneyError(ValueError):
    pass


def to_money(value) -> Decimal:
    """Parse a price into Decimal yuan, rounded half-up to the fen. Floats are refused."""
    if isinstance(value, float):
        raise MoneyError("money must not be a float")
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise MoneyError(f"not an amount: {value!r}") from exc
    if not amount.is_finite():
        raise MoneyError(f"not an amount: {value!r}")
    try:
        return amount.quantize(FEN, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:  # "1e400": more digits than the context holds
        raise MoneyError(f"not an amount: {value!r}") from exc


def floor_fen(amount) -> Decimal:
    """Down to the fen: what the merchant gives away (a discount cap, points' cash value)."""
    return Decimal(amount).quantize(FEN, rounding=ROUND_DOWN)


def round_commission(amount: Decimal) -> Decimal:
    """Commission rounds down to the fen: the merchant never pays a fraction it did not owe."""
    return floor_fen(amount)


def floor_int(value) -> int:
    """Whole units rounded down (points or growth earned from a paid amount)."""
    return int(Decimal(value).to_integral_value(rounding=ROUND_DOWN))


def ceil_int(value) -> int:
    """Whole units rounded up (points a shopper must spend to cover an amount)."""
    return int(Decimal(value).to_integral_value(rounding=ROUND_CEILING))


def yuan_to_fen(amount: Decimal) -> int:
    """WeChat Pay's integer fen. Refuses amounts that are not whole fen."""
    amount = Decimal(amount)
    if amount != amount.quantize(FEN):
        raise MoneyError(f"{amount} is not a whole number of fen")
    return int(amount * 100)


def fen_to_yuan(fen: int) -> Decimal:
    return (Decimal(int(fen)) / 100).quantize(FEN)


def yuan_string(amount: Decimal) -> str:
    """Alipay's total_amount: a yuan string with exactly two places."""
    return str(Decimal(amount).quantize(FEN, rounding=ROUND_HALF_UP))
