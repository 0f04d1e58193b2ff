"""A negative points balance (a refund took back points already spent) reads plainly: in red, with
the reason, and without an offer to exchange or deduct points."""

from decimal import Decimal

import pytest
from django.urls import reverse

from members import services
from members.models import PointsEntry

from .factories import make_member
from .test_views import MEMBER_CENTRE_QUERIES, SESSION_QUERIES, TAB_BAR_BADGE

pytestmark = pytest.mark.django_db

EXPLANATION = "因订单退款扣回积分，余额为负；获得新积分后抵消"


def in_debt(settings):
    settings.POINTS_PER_YUAN_EARNED = 1
    member = make_member()
    services.earn_for_completed_order(member, "order:P1", Decimal("100.00"), multiplier=Decimal("1.00"))
    services.spend_points(member, 80, PointsEntry.Kind.EXCHANGE, "mall:1")
    services.clawback_for_refund(
        member,
        "order:P1",
        refund_reference="order:P1:refund:1",
        refunded_total=Decimal("100.00"),
        paid_amount=Decimal("100.00"),
    )
    return member


def test_points_page_shows_a_negative_balance_in_red_with_the_reason_and_no_exchange(
    client, settings, django_assert_num_queries
):
    member = in_debt(settings)
    client.force_login(member.user)
    with django_assert_num_queries(SESSION_QUERIES + 3 + TAB_BAR_BADGE):
        response = client.get(reverse("members:points"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    page = response.content.decode()
    assert response.status_code == 200
    assert 'class="shop-section mc-balance is-negative"' in page
    assert '<strong class="mc-balance__num">-80</strong>' in page
    assert EXPLANATION in page
    assert "去兑换" not in page and "/marketing/points-mall/" not in page
    assert "退款扣回积分" in page and "-100" in page  # the claw-back row in the ledger


def test_points_page_with_a_positive_balance_offers_the_exchange_and_no_explanation(client):
    member = make_member(points=10)
    client.force_login(member.user)
    page = client.get(reverse("members:points"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "去兑换" in page and EXPLANATION not in page and "is-negative" not in page


def test_member_centre_shows_the_negative_figure_in_red_without_a_deduction_value(
    client, settings, django_assert_num_queries
):
    member = in_debt(settings)
    client.force_login(member.user)
    with django_assert_num_queries(MEMBER_CENTRE_QUERIES):
        response = client.get(reverse("members:me"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    page = response.content.decode()
    assert '<strong class="mc-stat__num is-negative" id="mc-points">-80</strong>' in page
    assert EXPLANATION in page
    assert "可抵扣" not in page


def test_member_centre_with_a_positive_balance_shows_what_the_points_are_worth(client):
    member = make_member(points=250)
    client.force_login(member.user)
    page = client.get(reverse("members:me"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "可抵扣 ¥2.50" in page and EXPLANATION not in page
    assert '<strong class="mc-stat__num" id="mc-points">250</strong>' in page


def test_signing_in_while_negative_keeps_the_figure_red(client, settings):
    member = in_debt(settings)
    client.force_login(member.user)
    response = client.post(reverse("members:sign_in"), HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert 'class="mc-stat__num is-negative" id="mc-points" hx-swap-oob="true"' in page
