"""Coupon arithmetic and validation: what a coupon takes off, what its card says, what staff may save."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.money import MoneyError
from marketing.models import Coupon, MemberCoupon

from .factories import make_coupon

D = Decimal


def coupon(**fields):
    """An unsaved coupon (discount_for, texts and clean() need no database)."""
    base = dict(name="券", kind=Coupon.Kind.FULL_REDUCTION, amount=D("10.00"), threshold=D("100.00"),
                validity=Coupon.Validity.RELATIVE, valid_days=30)
    base.update(fields)
    return Coupon(**base)


def discount(percent, max_discount=None, threshold="0"):
    return coupon(kind=Coupon.Kind.DISCOUNT, amount=None, discount_percent=D(percent),
                  max_discount=D(max_discount) if max_discount else None, threshold=D(threshold))


# --- discount_for ---------------------------------------------------------------------------
def test_full_reduction_under_its_threshold_takes_nothing():
    assert coupon().discount_for(D("99.99")) == D("0.00")


def test_full_reduction_at_and_over_its_threshold_takes_its_amount():
    assert coupon().discount_for(D("100.00")) == D("10.00")
    assert coupon().discount_for(D("250.00")) == D("10.00")


def test_no_threshold_coupon_never_takes_more_than_the_subtotal():
    no_threshold = coupon(kind=Coupon.Kind.NO_THRESHOLD, amount=D("20.00"), threshold=D("0"))
    assert no_threshold.discount_for(D("5.50")) == D("5.50")
    assert D("5.50") - no_threshold.discount_for(D("5.50")) == D("0.00")
    assert no_threshold.discount_for(D("30.00")) == D("20.00")


def test_zero_or_negative_subtotal_takes_nothing():
    no_threshold = coupon(kind=Coupon.Kind.NO_THRESHOLD, amount=D("20.00"), threshold=D("0"))
    assert no_threshold.discount_for(D("0")) == D("0.00")
    assert no_threshold.discount_for(D("-10.00")) == D("0.00")


def test_discount_percent_rounds_down_to_the_fen():
    # 85% of 33.33 is paid: 15% off = 4.9995, which the merchant rounds DOWN to 4.99
    assert discount("85").discount_for(D("33.33")) == D("4.99")
    # 88.8% of 10.01: 11.2% off = 1.12112 -> 1.12
    assert discount("88.8").discount_for(D("10.01")) == D("1.12")


def test_discount_coupon_capped_by_max_discount():
    capped = discount("50", max_discount="30.00")
    assert capped.discount_for(D("40.00")) == D("20.00")
    assert capped.discount_for(D("1000.00")) == D("30.00")


def test_discount_coupon_respects_its_threshold():
    assert discount("90", threshold="50.00").discount_for(D("49.99")) == D("0.00")
    assert discount("90", threshold="50.00").discount_for(D("50.00")) == D("5.00")


def test_discount_is_a_two_place_decimal():
    off = discount("85").discount_for("19.9")
    assert isinstance(off, Decimal) and off == D("2.98") and off.as_tuple().exponent == -2
    assert isinstance(coupon().discount_for(D("100")), Decimal)


def test_float_subtotal_is_refused():
    with pytest.raises(MoneyError):
        coupon().discount_for(100.0)
    with pytest.raises(MoneyError):
        discount("85").discount_for(19.9)


# --- texts ----------------------------------------------------------------------------------
def test_face_text_shows_yuan_for_amount_coupons_without_trailing_zeros():
    assert coupon(amount=D("10.00")).face_text == "¥10"
    assert coupon(amount=D("12.50")).face_text == "¥12.5"
    assert coupon(amount=D("0.99"), threshold=D("1")).face_text == "¥0.99"


def test_face_text_shows_tenths_for_discount_coupons():
    assert str(discount("85").face_text) == "8.5折"
    assert str(discount("80").face_text) == "8折"
    assert str(discount("88.8").face_text) == "8.88折"


def test_condition_text_says_the_threshold_or_none():
    assert str(coupon(threshold=D("100.00")).condition_text) == "满100元可用"
    assert str(coupon(threshold=D("99.50")).condition_text) == "满99.5元可用"
    assert str(coupon(kind=Coupon.Kind.NO_THRESHOLD, threshold=D("0")).condition_text) == "无门槛"


# --- clean() --------------------------------------------------------------------------------
def errors_of(instance):
    with pytest.raises(ValidationError) as info:
        instance.clean()
    return {field: [str(m) for m in messages] for field, messages in info.value.message_dict.items()}


def test_valid_coupons_pass_clean():
    coupon().clean()
    discount("85", max_discount="20").clean()
    coupon(kind=Coupon.Kind.NO_THRESHOLD, threshold=D("0")).clean()
    now = timezone.now()
    coupon(validity=Coupon.Validity.FIXED, valid_days=None, valid_from=now, valid_until=now + timedelta(days=1)).clean()


def test_discount_coupon_without_percent_is_refused():
    assert errors_of(coupon(kind=Coupon.Kind.DISCOUNT, amount=None, threshold=D("0"))) == {
        "discount_percent": ["折扣券需要填写折扣"]
    }


def test_amount_coupon_without_amount_is_refused():
    assert errors_of(coupon(kind=Coupon.Kind.NO_THRESHOLD, amount=None, threshold=D("0"))) == {
        "amount": ["请填写减免金额"]
    }


def test_full_reduction_threshold_must_exceed_its_amount():
    assert errors_of(coupon(amount=D("10.00"), threshold=D("10.00"))) == {"threshold": ["满减券的门槛必须大于减免金额"]}
    assert errors_of(coupon(amount=D("10.00"), threshold=D("0"))) == {"threshold": ["满减券的门槛必须大于减免金额"]}


def test_no_threshold_coupon_with_a_threshold_is_refused():
    assert errors_of(coupon(kind=Coupon.Kind.NO_THRESHOLD, threshold=D("50"))) == {
        "threshold": ["无门槛券的门槛必须为 0"]
    }


def test_fixed_validity_needs_an_end():
    assert errors_of(coupon(validity=Coupon.Validity.FIXED, valid_days=None, valid_until=None)) == {
        "valid_until": ["固定日期的券需要失效时间"]
    }


def test_fixed_validity_must_start_before_it_ends():
    now = timezone.now()
    for start in (now, now + timedelta(hours=1)):
        assert errors_of(
            coupon(validity=Coupon.Validity.FIXED, valid_days=None, valid_from=start, valid_until=now)
        ) == {"valid_until": ["失效时间必须晚于生效时间"]}


def test_relative_validity_needs_days():
    assert errors_of(coupon(valid_days=None)) == {"valid_days": ["请填写领取后的有效天数"]}


@pytest.mark.django_db
def test_total_cannot_drop_below_copies_already_issued():
    saved = make_coupon(total=10)
    Coupon.objects.filter(pk=saved.pk).update(issued_count=6)
    saved.refresh_from_db()
    saved.total_quantity = 5
    assert errors_of(saved) == {"total_quantity": ["发放总量不能少于已发放数量"]}
    saved.total_quantity = 6
    saved.clean()


# --- validity windows -----------------------------------------------------------------------
def test_relative_window_runs_valid_days_from_the_claim():
    claimed = timezone.now()
    assert coupon(valid_days=7).window_for(claimed) == (claimed, claimed + timedelta(days=7))


def test_fixed_window_is_the_coupon_dates_whenever_claimed():
    now = timezone.now()
    start, end = now + timedelta(days=2), now + timedelta(days=9)
    fixed = coupon(validity=Coupon.Validity.FIXED, valid_days=None, valid_from=start, valid_until=end)
    assert fixed.window_for(now) == (start, end)
    assert fixed.window_for(now + timedelta(days=3)) == (start, end)


def test_fixed_window_without_a_start_begins_at_the_claim():
    now = timezone.now()
    end = now + timedelta(days=9)
    fixed = coupon(validity=Coupon.Validity.FIXED, valid_days=None, valid_from=None, valid_until=end)
    assert fixed.window_for(now) == (now, end)


# --- MemberCoupon.is_usable ---------------------------------------------------------------------
def copy(status=MemberCoupon.Status.UNUSED, start=-1, end=1):
    now = timezone.now()
    return MemberCoupon(status=status, valid_from=now + timedelta(days=start), valid_until=now + timedelta(days=end))


def test_unused_copy_within_its_window_is_usable():
    assert copy().is_usable()


def test_used_expired_or_void_copy_is_not_usable():
    for status in (MemberCoupon.Status.USED, MemberCoupon.Status.EXPIRED, MemberCoupon.Status.VOID):
        assert not copy(status=status).is_usable()


def test_copy_is_usable_only_between_its_dates():
    assert not copy(start=1, end=5).is_usable()  # not started
    assert not copy(start=-5, end=-1).is_usable()  # ended
    item = copy()
    assert not item.is_usable(now=item.valid_until)  # the end itself is outside
    assert item.is_usable(now=item.valid_from)


# --- the database refuses what the services must never do ----------------------------------------
@pytest.mark.django_db
def test_database_refuses_more_copies_than_the_total():
    from django.db import IntegrityError, transaction
    from django.db.models import F

    saved = make_coupon(total=1)
    Coupon.objects.filter(pk=saved.pk).update(issued_count=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Coupon.objects.filter(pk=saved.pk).update(issued_count=F("issued_count") + 1)
    assert Coupon.objects.get(pk=saved.pk).issued_count == 1


@pytest.mark.django_db
def test_database_refuses_a_coupon_without_its_value():
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Coupon.objects.create(name="坏券", kind=Coupon.Kind.NO_THRESHOLD, amount=None, valid_days=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        Coupon.objects.create(name="坏券", kind=Coupon.Kind.DISCOUNT, discount_percent=None, valid_days=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        Coupon.objects.create(name="坏券", amount=D("5"), threshold=D("10"), validity=Coupon.Validity.FIXED)
    with pytest.raises(IntegrityError), transaction.atomic():  # relative validity with no days
        Coupon.objects.create(name="坏券", amount=D("5"), threshold=D("10"), valid_days=None)
    assert not Coupon.objects.filter(name="坏券").exists()
