"""Back office: pickup verification (核销) of points-mall goods, scoped to the clerk's stores, and
the coupon statistics page.

Codes are looked up (by POST) on the verification screen shared with pickup orders,
/backoffice/orders/pickups/ (SCREEN); the old marketing page (PICKUPS) sends clerks there, and
marketing's confirm view (VERIFY) still hands the goods over, then returns to the shared screen.
Tests that looked codes up on the old page look them up on the shared screen."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from marketing import services
from marketing.models import MemberCoupon, PointsExchange
from stores import services as stock_services
from stores.models import StockMovement
from tests.stores.conftest import make_staff as make_store_staff

from .conftest import make_shopper, make_sku, make_staff, make_store, stock_of
from .factories import make_coupon, make_product_item

pytestmark = pytest.mark.django_db

PICKUPS = reverse("marketing_bo:pickups")
SCREEN = reverse("orders_bo:pickups")
VERIFY = reverse("marketing_bo:pickup_verify")
COUPONS = reverse("marketing_bo:coupons")
PICKUP_PERMS = ["view_pointsexchange", "change_pointsexchange"]


def grant(user, *codenames):
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="marketing", codename__in=codenames))
    return type(user).objects.get(pk=user.pk)  # fresh: no cached permissions


@pytest.fixture
def sku(db):
    return make_sku("积分好礼芒果干")


@pytest.fixture
def store_a(sku):
    store = make_store("A店", code="bo-a")
    stock_services.receive_stock(store, sku, 5)
    return store


@pytest.fixture
def store_b(sku):
    store = make_store("B店", code="bo-b", city="杭州市", province="浙江省")
    stock_services.receive_stock(store, sku, 5)
    return store


@pytest.fixture
def item(sku):
    return make_product_item(sku, points=100, title="芒果干兑换")


@pytest.fixture
def clerk_a(store_a):
    return grant(make_staff(store_a, username="mall_clerk_a"), *PICKUP_PERMS)


def exchange_at(store, item, shopper=None, request_id=None):
    shopper = shopper or make_shopper(points=1000, nickname="小芒")
    return services.exchange_points(
        shopper, item.pk, request_id=request_id or f"req-{store.pk}-{shopper.pk}", store_id=store.pk
    )


def lookup(client, store, code):
    """Type (or scan) a code on the shared verification screen."""
    return client.post(SCREEN, {"store": store.pk, "code": code})


def texts(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def sales_of(exchange):
    return StockMovement.objects.filter(reference=exchange.reference, reason=StockMovement.Reason.SALE).count()


# --- verification --------------------------------------------------------------------------------
def test_clerk_looks_up_own_store_code_and_sees_the_exchange_with_a_masked_phone(client, clerk_a, store_a, item):
    exchange = exchange_at(store_a, item)
    client.force_login(clerk_a)
    response = lookup(client, store_a, exchange.pickup_code)
    assert response.status_code == 200
    assert response.context["exchange"].pk == exchange.pk
    html = response.content.decode()
    phone = exchange.user.phone.removeprefix("+86")
    assert "芒果干兑换" in html and "小芒" in html
    assert f"{phone[:3]}****{phone[-4:]}" in html and phone not in html
    assert 'data-testid="pickup-confirm"' in html


def test_clerk_verifies_own_store_code_and_the_reserved_unit_is_sold(client, clerk_a, store_a, item, sku):
    exchange = exchange_at(store_a, item)
    assert stock_of(store_a, sku) == (5, 1)
    client.force_login(clerk_a)
    response = client.post(VERIFY, {"store": store_a.pk, "code": exchange.pickup_code, "exchange": exchange.pk})
    assert response.status_code == 302
    assert any("核销成功" in m for m in texts(response))
    exchange.refresh_from_db()
    assert exchange.status == PointsExchange.Status.DONE
    assert exchange.picked_up_by == clerk_a and exchange.picked_up_at is not None
    assert stock_of(store_a, sku) == (4, 0)
    assert sales_of(exchange) == 1
    assert response["Location"] == f"{SCREEN}?store={store_a.pk}"
    page = client.get(SCREEN)
    assert [row.pk for row in page.context["recent_exchanges"]] == [exchange.pk]
    assert list(page.context["waiting_exchanges"]) == []


def test_double_confirm_says_already_verified_and_sells_once(client, clerk_a, store_a, item, sku):
    exchange = exchange_at(store_a, item)
    client.force_login(clerk_a)
    form = {"store": store_a.pk, "code": exchange.pickup_code, "exchange": exchange.pk}
    client.post(VERIFY, form)
    again = client.post(VERIFY, form, follow=True)
    assert again.status_code == 200
    html = again.content.decode()
    assert "已核销" in html and "请勿重复发货" in html
    assert stock_of(store_a, sku) == (4, 0)
    assert sales_of(exchange) == 1


def test_resent_form_without_exchange_id_also_says_already_verified(client, clerk_a, store_a, item, sku):
    exchange = exchange_at(store_a, item)
    client.force_login(clerk_a)
    client.post(VERIFY, {"store": store_a.pk, "code": exchange.pickup_code})
    again = client.post(VERIFY, {"store": store_a.pk, "code": exchange.pickup_code})
    assert any("已核销" in m for m in texts(again))
    assert stock_of(store_a, sku) == (4, 0)


def test_clerk_of_a_posting_store_b_id_is_refused_and_nothing_changes(client, clerk_a, store_b, item, sku):
    theirs = exchange_at(store_b, item)
    client.force_login(clerk_a)
    response = client.post(VERIFY, {"store": store_b.pk, "code": theirs.pickup_code, "exchange": theirs.pk})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == PointsExchange.Status.AWAITING_PICKUP
    assert stock_of(store_b, sku) == (5, 1)
    assert client.get(PICKUPS, {"store": store_b.pk, "code": theirs.pickup_code}).status_code == 404


def test_clerk_of_a_typing_a_store_b_code_gets_a_clear_message_and_nothing_changes(
    client, clerk_a, store_a, store_b, item, sku
):
    theirs = exchange_at(store_b, item)
    client.force_login(clerk_a)
    found = lookup(client, store_a, theirs.pickup_code)
    assert found.status_code == 200
    assert found.context.get("exchange") is None
    assert found.context["lookup_error"] == "自提码无效、已核销或不属于本门店"
    response = client.post(VERIFY, {"store": store_a.pk, "code": theirs.pickup_code, "exchange": theirs.pk})
    assert response.status_code == 302
    assert texts(response) == ["自提码无效、已核销或不属于本门店"]
    theirs.refresh_from_db()
    assert theirs.status == PointsExchange.Status.AWAITING_PICKUP
    assert stock_of(store_b, sku) == (5, 1) and stock_of(store_a, sku) == (5, 0)


def test_clerk_never_sees_another_store_pickups_in_the_lists(client, clerk_a, store_a, store_b, item):
    ours = exchange_at(store_a, item)
    theirs = exchange_at(store_b, item)
    hq_done = exchange_at(store_b, item)
    services.verify_pickup(store=store_b, code=hq_done.pickup_code, by=make_staff(store_b))
    client.force_login(clerk_a)
    page = client.get(SCREEN)
    assert [e.pk for e in page.context["waiting_exchanges"]] == [ours.pk]
    assert page.context["recent_exchanges"] == []
    assert [s.pk for s in page.context["stores"]] == [store_a.pk]
    html = page.content.decode()
    # the list does not give away codes: the shopper shows theirs at the counter
    assert ours.pickup_code not in html and theirs.pickup_code not in html


def test_overdue_code_cannot_be_verified(client, clerk_a, store_a, item, sku):
    exchange = exchange_at(store_a, item)
    PointsExchange.objects.filter(pk=exchange.pk).update(pickup_deadline=timezone.now() - timedelta(minutes=1))
    client.force_login(clerk_a)
    found = lookup(client, store_a, exchange.pickup_code)
    assert found.context["exchange"].is_overdue
    assert 'data-testid="pickup-confirm"' not in found.content.decode()
    response = client.post(VERIFY, {"store": store_a.pk, "code": exchange.pickup_code, "exchange": exchange.pk})
    assert texts(response) == ["该兑换已超过自提期限"]
    exchange.refresh_from_db()
    assert exchange.status == PointsExchange.Status.AWAITING_PICKUP
    assert stock_of(store_a, sku) == (5, 1)


def test_lookup_of_a_reused_code_shows_the_open_pickup_then_the_one_handed_over(client, clerk_a, store_a, item):
    handed = exchange_at(store_a, item)
    services.verify_pickup(store=store_a, code=handed.pickup_code, by=clerk_a)
    cancelled = exchange_at(store_a, item)
    services.cancel_exchange(cancelled.pk)
    PointsExchange.objects.filter(pk__in=[handed.pk, cancelled.pk]).update(pickup_code="111111")
    client.force_login(clerk_a)
    shown = lookup(client, store_a, "111111")
    assert shown.context["exchange"].pk == handed.pk
    assert "已核销" in shown.content.decode() and 'data-testid="pickup-confirm"' not in shown.content.decode()
    fresh = exchange_at(store_a, item)
    PointsExchange.objects.filter(pk=fresh.pk).update(pickup_code="111111")
    assert lookup(client, store_a, "111111").context["exchange"].pk == fresh.pk


@pytest.mark.parametrize("code", ["12345", "abcdef", "1234567", "12 34 5x"])
def test_malformed_code_gets_a_clear_message(client, clerk_a, store_a, item, code):
    client.force_login(clerk_a)
    found = lookup(client, store_a, code)
    assert found.status_code == 200
    assert found.context["lookup_error"] == "请输入 6 位数字自提码"
    response = client.post(VERIFY, {"store": store_a.pk, "code": code})
    assert response.status_code == 302
    assert texts(response) == ["请输入 6 位数字自提码"]


def test_scanned_or_full_width_code_is_read_as_its_six_digits(client, clerk_a, store_a, item, sku):
    exchange = exchange_at(store_a, item)
    code = exchange.pickup_code
    full_width = code.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    client.force_login(clerk_a)
    assert lookup(client, store_a, f" {code[:3]} {code[3:]} ").context["exchange"].pk == exchange.pk
    client.post(VERIFY, {"store": store_a.pk, "code": full_width, "exchange": exchange.pk})
    exchange.refresh_from_db()
    assert exchange.status == PointsExchange.Status.DONE


def test_store_picker_defaults_to_the_only_store_and_hq_chooses(client, store_a, store_b, item):
    exchange_at(store_a, item)
    theirs = exchange_at(store_b, item)
    from tests.stores.conftest import make_hq

    hq = grant(make_hq("mall_hq"), *PICKUP_PERMS)
    client.force_login(hq)
    page = lookup(client, store_b, theirs.pickup_code)
    assert page.context["store"] == store_b and page.context["exchange"].pk == theirs.pk
    # the shared screen lists what waits at the chosen store (the old page listed every store's)
    assert page.context["many_stores"] and [e.pk for e in page.context["waiting_exchanges"]] == [theirs.pk]
    response = client.post(VERIFY, {"store": store_b.pk, "code": theirs.pickup_code, "exchange": theirs.pk})
    assert response.status_code == 302
    theirs.refresh_from_db()
    assert theirs.status == PointsExchange.Status.DONE and theirs.picked_up_by == hq


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_tills_confirming_the_same_code_at_once_hand_it_over_once(clerk_a, store_a, item, sku):
    import threading

    from django.db import connection as thread_connection
    from django.test import Client

    exchange = exchange_at(store_a, item)
    colleague = grant(make_staff(store_a, username="mall_clerk_a2"), *PICKUP_PERMS)
    form = {"store": store_a.pk, "code": exchange.pickup_code, "exchange": exchange.pk}
    barrier = threading.Barrier(2)
    said = []

    def confirm(user):
        try:
            till = Client()
            till.force_login(user)
            barrier.wait(timeout=10)
            response = till.post(VERIFY, form)
            said.append((response.status_code, texts(response)))
        finally:
            thread_connection.close()

    tills = [threading.Thread(target=confirm, args=(user,)) for user in (clerk_a, colleague)]
    for till in tills:
        till.start()
    for till in tills:
        till.join(timeout=30)
    assert [code for code, _ in said] == [302, 302]
    messages = [m for _, ms in said for m in ms]
    assert len(messages) == 2
    assert sum(m.startswith("核销成功") for m in messages) == 1
    assert sum("已核销" in m and "请勿重复发货" in m for m in messages) == 1
    assert stock_of(store_a, sku) == (4, 0)
    assert sales_of(exchange) == 1


# --- who may open it -------------------------------------------------------------------------------
def test_staff_without_marketing_permissions_get_403_and_change_nothing(client, store_a, item, sku):
    exchange = exchange_at(store_a, item)
    plain = make_store_staff(store_a, username="no_mall_perms")
    client.force_login(plain)
    assert client.get(PICKUPS).status_code == 403
    assert client.post(VERIFY, {"store": store_a.pk, "code": exchange.pickup_code}).status_code == 403
    viewer = grant(make_store_staff(store_a, username="mall_viewer"), "view_pointsexchange")
    client.force_login(viewer)
    page = lookup(client, store_a, exchange.pickup_code)
    assert page.status_code == 200 and page.context["exchange"].pk == exchange.pk
    assert 'data-testid="pickup-confirm"' not in page.content.decode()
    assert client.post(VERIFY, {"store": store_a.pk, "code": exchange.pickup_code}).status_code == 403
    exchange.refresh_from_db()
    assert exchange.status == PointsExchange.Status.AWAITING_PICKUP
    assert stock_of(store_a, sku) == (5, 1)


def test_anonymous_goes_to_login_and_a_shopper_gets_403(client, store_a, item):
    exchange = exchange_at(store_a, item)
    response = client.get(PICKUPS)
    assert response.status_code == 302 and "login" in response["Location"]
    response = client.post(VERIFY, {"store": store_a.pk, "code": exchange.pickup_code})
    assert response.status_code == 302 and "login" in response["Location"]
    client.force_login(exchange.user)
    assert client.get(PICKUPS).status_code == 403
    assert client.post(VERIFY, {"store": store_a.pk, "code": exchange.pickup_code}).status_code == 403
    exchange.refresh_from_db()
    assert exchange.status == PointsExchange.Status.AWAITING_PICKUP


def test_staff_with_no_store_see_a_hint_not_an_error(client):
    lonely = grant(make_staff(username="mall_lonely"), *PICKUP_PERMS)
    client.force_login(lonely)
    response = client.get(PICKUPS, follow=True)
    assert response.status_code == 200 and response.redirect_chain == [(SCREEN, 302)]
    assert "你还没有被分配到任何门店" in response.content.decode()


def test_menu_offers_pickups_to_clerks_but_not_coupon_statistics(client, clerk_a):
    client.force_login(clerk_a)
    menu = client.get(reverse("backoffice:dashboard")).content.decode()
    assert SCREEN in menu and COUPONS not in menu
    assert client.get(COUPONS).status_code == 403


# --- query budgets ---------------------------------------------------------------------------------
def _lookup_queries(client, store, code):
    with CaptureQueriesContext(connection) as ctx:
        response = lookup(client, store, code)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _queries(client, url, params=None):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_pickups_page_queries_do_not_grow_with_open_and_done_pickups(client, clerk_a, store_a, item, sku):
    stock_services.receive_stock(store_a, sku, 20)
    first = exchange_at(store_a, item)
    done = exchange_at(store_a, item)
    services.verify_pickup(store=store_a, code=done.pickup_code, by=clerk_a)
    client.force_login(clerk_a)
    one = _lookup_queries(client, store_a, first.pickup_code)
    for _ in range(9):
        exchange_at(store_a, item)
    for _ in range(3):
        more = exchange_at(store_a, item)
        services.verify_pickup(store=store_a, code=more.pickup_code, by=clerk_a)
    page = client.get(SCREEN)
    assert len(page.context["waiting_exchanges"]) == 10 and len(page.context["recent_exchanges"]) == 4
    ten = _lookup_queries(client, store_a, first.pickup_code)
    assert one == ten
    assert ten <= 14


# --- coupon statistics -----------------------------------------------------------------------------
@pytest.fixture
def marketer(db):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("marketer", password="x", is_staff=True)
    return grant(user, "view_coupon")


def _copy(coupon, user, status, *, ended=False):
    now = timezone.now()
    copy = services.issue_coupon(user, coupon, source=MemberCoupon.Source.GRANT, reference=f"t:{user.pk}:{status}")
    end = now - timedelta(days=1) if ended else now + timedelta(days=10)
    MemberCoupon.objects.filter(pk=copy.pk).update(status=status, valid_until=end)


def test_coupon_statistics_count_issued_used_expired_and_unused(client, marketer):
    coupon = make_coupon("满100减10统计")
    idle = make_coupon("没人领的券")
    S = MemberCoupon.Status
    for status, ended in [(S.USED, False), (S.USED, False), (S.USED, False), (S.EXPIRED, True),
                          (S.UNUSED, True), (S.UNUSED, False), (S.VOID, False)]:
        _copy(coupon, make_shopper(), status, ended=ended)
    client.force_login(marketer)
    response = client.get(COUPONS)
    rows = {r.pk: r for r in response.context["rows"]}
    row = rows[coupon.pk]
    assert (row.issued, row.used, row.expired, row.void, row.unused) == (7, 3, 2, 1, 1)
    assert str(row.use_rate) == "42.9"
    assert rows[idle.pk].issued == 0 and rows[idle.pk].use_rate is None
    assert response.context["totals"]["issued"] == 7
    # only coupons with copies are charted, under a label short enough for the axis
    assert [(p["name"], p["issued"], p["rate"]) for p in response.context["chart"]] == [("满100减10统…", 7, 42.9)]
    html = response.content.decode()
    assert 'id="coupon-chart-data"' in html and 'data-chart="bar"' in html


def test_coupon_statistics_filter_by_claim_date(client, marketer):
    coupon = make_coupon()
    _copy(coupon, make_shopper(), MemberCoupon.Status.USED)
    old = make_shopper()
    _copy(coupon, old, MemberCoupon.Status.UNUSED)
    MemberCoupon.objects.filter(user=old).update(claimed_at=timezone.now() - timedelta(days=40))
    client.force_login(marketer)
    since = (timezone.localdate() - timedelta(days=7)).isoformat()
    row = client.get(COUPONS, {"date_from": since}).context["rows"][0]
    assert (row.issued, row.used) == (1, 1)
    bad = client.get(COUPONS, {"date_from": "2026-12-31", "date_to": "2026-01-01"})
    assert bad.status_code == 200 and "开始日期不能晚于结束日期" in bad.content.decode()


def test_coupon_statistics_take_one_query_for_all_coupons(client, marketer):
    make_coupon()
    client.force_login(marketer)
    client.get(COUPONS)  # the first page of a session reads the staff member's permissions (core.permissions)
    one = _queries(client, COUPONS)
    for _ in range(9):
        coupon = make_coupon()
        _copy(coupon, make_shopper(), MemberCoupon.Status.USED)
    ten = _queries(client, COUPONS)
    assert one == ten


# --- in a browser (screenshots under var/test-artifacts/screenshots/) ------------------------------
def _browser_login(page, live_server, user):
    from django.conf import settings as dj_settings
    from django.test import Client

    browser_client = Client()
    browser_client.force_login(user)
    cookie = browser_client.cookies[dj_settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": dj_settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_clerk_scans_a_code_confirms_and_sees_it_verified(live_server, page, screenshot):
    sku = make_sku("百草味芒果干 120g")
    store = make_store("静安寺店", code="bo-browser")
    stock_services.receive_stock(store, sku, 10)
    item = make_product_item(sku, points=800, title="百草味芒果干 120g（到店自提）")
    waiting = [exchange_at(store, item, make_shopper(points=1000, nickname=name)) for name in ("小芒", "阿甜", "大橙")]
    clerk = grant(make_staff(store, username="browser_clerk"), *PICKUP_PERMS)
    done = exchange_at(store, item, make_shopper(points=1000, nickname="老顾客"))
    services.verify_pickup(store=store, code=done.pickup_code, by=clerk)

    page.set_viewport_size({"width": 1280, "height": 900})
    _browser_login(page, live_server, clerk)
    page.goto(live_server.url + PICKUPS)  # the old page: on to the shared verification screen
    page.wait_for_url(f"**{SCREEN}?store={store.pk}")

    def look_up(tab):
        code_input = tab.locator("input[name=code]")
        assert code_input.evaluate("el => el === document.activeElement")  # a scanner types straight in
        code_input.fill(waiting[0].pickup_code)
        code_input.press("Enter")
        tab.locator("[data-testid=pickup-exchange]").wait_for()

    look_up(page)
    assert "小芒" in page.locator("[data-testid=pickup-exchange]").inner_text()
    screenshot("marketing-backoffice-pickup-lookup")
    # a second till (or a second tab) shows the same exchange: its confirm comes second
    other = page.context.new_page()
    other.set_viewport_size({"width": 1280, "height": 900})
    other.goto(live_server.url + SCREEN)
    look_up(other)
    page.locator("[data-testid=pickup-confirm]").click()
    page.locator(".obo-dialog").wait_for()  # a hand-over cannot be undone: it asks first
    assert "小芒" in page.locator(".obo-dialog__bd").inner_text()
    page.locator("[data-dialog-ok]").click()
    page.locator(".bo-message--success").wait_for()
    assert "核销成功" in page.locator(".bo-message--success").inner_text()
    assert page.locator("[data-testid=open-pickups] tbody tr").count() == 2
    assert page.locator("[data-testid=done-pickups] tbody tr").count() == 2
    assert page.locator(".bo-menu__item.is-active").inner_text() == "自提核销"
    screenshot("marketing-backoffice-pickups")
    other.locator("[data-testid=pickup-confirm]").click()  # the confirm form again, as if clicked twice
    other.locator("[data-dialog-ok]").click()
    other.locator(".bo-message--warning").wait_for()
    assert "已核销" in other.locator(".bo-message--warning").inner_text()
    assert stock_of(store, sku) == (8, 2)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_marketer_sees_coupon_statistics_with_charts(live_server, page, screenshot):
    from django.contrib.auth import get_user_model

    S = MemberCoupon.Status
    from marketing.models import Coupon

    plan = {
        "满100减10元券": (12, 7, 2, {}),
        "满200减30元券": (8, 3, 1, {"amount": "30.00", "threshold": "200.00"}),
        "8.8折券": (5, 4, 0, {"kind": Coupon.Kind.DISCOUNT, "discount_percent": "88", "max_discount": "20"}),
        "无门槛5元券": (15, 6, 5, {"kind": Coupon.Kind.NO_THRESHOLD, "amount": "5.00"}),
    }
    for name, (issued, used, expired, fields) in plan.items():
        coupon = make_coupon(name, **fields)
        for i in range(issued):
            status = S.USED if i < used else S.EXPIRED if i < used + expired else S.UNUSED
            _copy(coupon, make_shopper(), status, ended=status == S.EXPIRED)
    make_coupon("年终大促满300减50元券", amount="50.00", threshold="300.00", validity=Coupon.Validity.FIXED)
    boss = get_user_model().objects.create_user("browser_boss", password="x", is_staff=True, is_superuser=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    _browser_login(page, live_server, boss)
    page.goto(live_server.url + COUPONS)
    page.locator(".bo-chart canvas").first.wait_for()
    assert page.locator(".bo-chart canvas").count() == 2
    assert page.locator("[data-testid=total-issued]").inner_text() == "40"
    assert page.locator("[data-testid=coupon-stats] tbody tr").count() == 5
    page.wait_for_timeout(300)
    screenshot("marketing-backoffice-coupon-stats")
