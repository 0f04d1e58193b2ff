"""On a phone (390 px): a store receives a transfer short and reads the difference in words; HQ
finds it under 差异待处理 (and on the workbench), settles it with a reason after the confirmation,
and the units go back into the source's stock; the bell lists the store's open notices. No page
scrolls sideways. Screenshots under var/test-artifacts/screenshots/transfer-difference-*.png."""

import pytest
from django.contrib.auth.models import Permission

from stores import services
from stores.models import Stock, StoreNotification, StoreStaff, Transfer

from .conftest import make_hq, make_sku, make_staff, make_store
from .test_documents_browser import login, no_page_scroll

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_short_receipt_reads_in_words_and_hq_settles_it(live_server, page, browser, screenshot):
    source, destination = make_store("徐家汇店", code="sh-xjh-diff"), make_store("静安寺店", code="sh-ja-diff")
    tea = make_sku("明前龙井")
    tea.product.unit = "盒"
    tea.product.save(update_fields=["unit"])
    services.receive_stock(source, tea, 10)
    sender = make_staff(source, role=StoreStaff.Role.MANAGER, username="diff_sender")
    receiver = make_staff(destination, role=StoreStaff.Role.MANAGER, username="diff_receiver")
    transfer = services.create_transfer(source, destination, [(tea, 6)], by=sender)
    services.dispatch_transfer(transfer, by=sender)
    StoreNotification.objects.create(user=receiver, store=destination, kind="low_stock", title="低库存：静安寺店 明前龙井",
                                     body="可用库存 0，低于阈值 5，请及时补货。")
    base = live_server.url

    # the receiving store types 5 of 6 and confirms
    login(page.context, live_server, receiver)
    page.goto(f"{base}/backoffice/stores/transfers/{transfer.pk}/")
    assert page.locator("[data-testid=bell-count]").inner_text() == "1"
    page.fill(f"input[name=received_{transfer.lines.get().pk}]", "5")
    page.fill("input[name=note]", "外箱压坏一盒")
    assert no_page_scroll(page)
    screenshot("transfer-difference-1-receive")
    page.get_by_role("button", name="确认收货").click()
    dialog = page.locator(".obo-dialog")
    dialog.wait_for()
    dialog.get_by_role("button", name="确定").click()
    page.locator("[data-testid=transfer-difference]").wait_for()
    assert page.locator("[data-testid=transfer-difference]").inner_text() == "少到 1 件，差异待处理"
    assert page.locator("[data-testid=line-difference]").inner_text() == "少到 1 盒，差异待处理"
    assert "处理收货差异" not in page.content()
    assert no_page_scroll(page)
    screenshot("transfer-difference-2-received-short")
    page.goto(f"{base}/backoffice/stores/notifications/")
    assert "明前龙井" in page.locator("[data-testid=notice-list]").inner_text()
    assert no_page_scroll(page)
    screenshot("transfer-difference-3-bell")
    assert Stock.objects.get(store=destination, sku=tea).on_hand == 5

    # HQ: the workbench counts it, the tab lists it, the settle form returns the unit to the source
    hq = make_hq("diff_hq")
    hq.user_permissions.add(*Permission.objects.filter(content_type__app_label="stores",
                                                       codename__in=["view_stockdocument"]))
    page.context.clear_cookies()
    login(page.context, live_server, hq)
    page.goto(f"{base}/backoffice/")
    assert page.locator("[data-testid=wb-differences] .bo-card__value").inner_text() == "1"
    assert page.locator("[data-testid=wb-per-store]").is_visible()
    assert no_page_scroll(page)
    screenshot("transfer-difference-4-hq-workbench")
    page.locator("[data-testid=wb-differences]").click()
    page.wait_for_url("**/transfers/?difference=open")
    assert page.locator("[data-testid=transfer-list] tbody tr").count() == 1
    assert no_page_scroll(page)
    screenshot("transfer-difference-5-hq-list")
    page.get_by_role("link", name=str(transfer)).click()
    page.locator("[data-testid=resolve-panel]").wait_for()
    page.select_option(f"select[name=resolution_{transfer.lines.get().pk}]", "returned")
    page.fill("input[name=reason]", "承运方确认漏装一盒，已退回徐家汇店")
    assert no_page_scroll(page)
    screenshot("transfer-difference-6-hq-settle")
    page.get_by_role("button", name="确认处理").click()
    dialog = page.locator(".obo-dialog")
    dialog.wait_for()
    dialog.get_by_role("button", name="确定").click()
    page.locator(".bo-message--success").wait_for()
    assert page.locator("[data-testid=transfer-difference]").inner_text() == "少到 1 件，差异已处理"
    assert page.locator("[data-testid=line-difference]").inner_text() == "少到 1 盒，已退回调出门店"
    assert "承运方确认漏装一盒" in page.content()
    assert no_page_scroll(page)
    screenshot("transfer-difference-7-settled")

    transfer.refresh_from_db()
    assert transfer.difference_status == Transfer.Difference.RESOLVED
    assert Stock.objects.get(store=source, sku=tea).on_hand == 10 - 6 + 1
    assert Stock.objects.get(store=destination, sku=tea).on_hand == 5
