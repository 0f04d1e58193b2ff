"""The reconciliation pages in Chromium on a phone (390 px): the stacked bars are drawn, a day with
differences links to its orders, and 对账 runs the day again. Screenshots under
var/test-artifacts/screenshots/orders-bo-reconciliation*.png."""

import pytest
from django.conf import settings
from django.test import Client

from members import services as member_services

from .backoffice_support import make_hq
from .factories import make_shopper, make_store
from .reconcile_support import (
    BILLS,
    DAY,
    after_ready,
    at,
    bill_payment,
    paid_attempt,
    pending_attempt,
    tea_for,
    use_fake_gateways,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE_WIDTH = 390


@pytest.fixture(autouse=True)
def gateways(settings):
    settings.PAYMENT_DEV_GATEWAY = True
    use_fake_gateways(settings)


def login(page, live_server, user):
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.clear_cookies()
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])


def test_hq_reads_the_figures_and_a_days_differences_and_reconciles_it_again(live_server, page, screenshot):
    from orders.payments.reconcile import reconcile_day

    member_services.ensure_default_levels()
    store = make_store("对账门店")
    shopper = make_shopper()
    tea = tea_for(store)
    jsapi = paid_attempt(shopper, store, tea, "wechat_jsapi", when=at(DAY, 9))
    paid_attempt(shopper, store, tea, "alipay_wap", when=at(DAY, 10), quantity=2)
    unpaid = pending_attempt(shopper, store, tea, "wechat_native")
    BILLS["wechat"] = {DAY: [bill_payment(jsapi), bill_payment(unpaid)]}  # Alipay's bill is empty
    reconcile_day(DAY, now=after_ready(DAY))
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, live_server, make_hq())

    page.goto(live_server.url + "/backoffice/orders/reconciliation/")
    page.locator("[data-stacked-chart] canvas").first.wait_for()
    assert page.locator(f"tr[data-day='{DAY.isoformat()}'] [data-status=differences]").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    screenshot("orders-bo-reconciliation")

    page.locator(f"tr[data-day='{DAY.isoformat()}'] td.obo-cell-main a").click()
    page.locator("[data-testid=differences] [data-kind]").first.wait_for()
    assert page.locator("[data-testid=differences] [data-kind=missing_here]").count() == 1
    assert page.locator("[data-testid=differences] [data-kind=missing_there]").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    screenshot("orders-bo-reconciliation-day")

    BILLS["alipay"] = {DAY: []}
    page.locator("[data-testid=reconcile-again]").click()
    page.locator(".bo-message--success").wait_for()
    assert "已开始对账" in page.locator(".bo-message--success").inner_text()
    assert page.locator("[data-testid=runs] tbody tr").count() == 2
    page.locator("[data-testid=differences] [data-kind=missing_here] a").click()
    page.wait_for_url(f"**/backoffice/orders/{unpaid.order_id}/")
    assert errors == []
