from decimal import Decimal

import pytest

from core import money


def test_to_money_rounds_half_up_to_the_fen():
    assert money.to_money("12.345") == Decimal("12.35")
    assert money.to_money(Decimal("0.004")) == Decimal("0.00")


@pytest.mark.parametrize("bad", [1.5, "abc", "NaN", "Infinity", ""])
def test_to_money_refuses_floats_and_garbage(bad):
    with pytest.raises(money.MoneyError):
        money.to_money(bad)


def test_commission_rounds_down():
    assert money.round_commission(Decimal("3.339")) == Decimal("3.33")
    assert money.round_commission(Decimal("0.009")) == Decimal("0.00")


def test_gateway_boundaries():
    assert money.yuan_to_fen(Decimal("99.90")) == 9990
    assert money.fen_to_yuan(9990) == Decimal("99.90")
    assert money.yuan_string(Decimal("5")) == "5.00"
    with pytest.raises(money.MoneyError):
        money.yuan_to_fen(Decimal("1.001"))


def test_floor_and_ceiling_helpers():
    assert money.floor_fen(Decimal("1.239")) == Decimal("1.23")
    assert money.floor_int(Decimal("99.99")) == 99
    assert money.ceil_int(Decimal("100.01")) == 101
    assert money.ceil_int(Decimal("100")) == 100


def test_amounts_past_the_decimal_context_are_refused_not_raised_as_invalid_operation():
    import pytest

    from core.money import MoneyError, to_money

    for raw in ("1e400", "-1e999", "9" * 60):
        with pytest.raises(MoneyError):
            to_money(raw)
