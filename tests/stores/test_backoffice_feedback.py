"""After every back-office action the staff member is told what happened, and an action that cannot
be undone asks first (issue 11, item 5): the stock row's threshold and adjustment (as a page and as
the htmx row), notices marked read, a line taken off a document; the transfer's dispatch, receipt and
cancel carry the confirmation, and in the browser nothing moves until it is confirmed; a document's
post, 作废 and 冲销 ask first, and every document and transfer step ends with its message."""

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from stores import documents, services
from stores.models import Stock, StoreNotification, Transfer

from .conftest import make_hq, make_store
from .test_documents_browser import login

pytestmark = pytest.mark.django_db


def said(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_a_threshold_saved_says_so_as_a_page_and_as_the_row(client, store_a, clerk_a, sku):
    services.receive_stock(store_a, sku, 10)
    stock = Stock.objects.get(store=store_a, sku=sku)
    client.force_login(clerk_a)
    url = reverse("stores_bo:stock_threshold", args=[stock.pk])
    response = client.post(url, {"low_threshold": "3"})
    assert response.status_code == 302 and said(response) == ["阈值已保存"]
    row = client.post(url, {"low_threshold": "4"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'data-testid="row-done">阈值已保存<' in row
    stock.refresh_from_db()
    assert stock.low_threshold == 4
    refused = client.post(url, {"low_threshold": "-1"}, HTTP_HX_REQUEST="true").content.decode()
    assert "row-done" not in refused and "bo-errors" in refused


def test_an_adjustment_by_htmx_says_so_on_its_row(client, store_a, clerk_a, sku):
    services.receive_stock(store_a, sku, 10)
    stock = Stock.objects.get(store=store_a, sku=sku)
    client.force_login(clerk_a)
    url = reverse("stores_bo:stock_adjust", args=[stock.pk])
    row = client.post(url, {"delta": "-2", "reason": "报损", "request_id": "a" * 32}, HTTP_HX_REQUEST="true")
    assert 'data-testid="row-done">库存已调整<' in row.content.decode()
    refused = client.post(url, {"delta": "-50", "reason": "报损", "request_id": "b" * 32}, HTTP_HX_REQUEST="true")
    assert "row-done" not in refused.content.decode()
    stock.refresh_from_db()
    assert stock.on_hand == 8


def test_notices_marked_read_say_so(client, store_a, manager_a):
    StoreNotification.objects.create(user=manager_a, store=store_a, title="库存不足", body="茶")
    client.force_login(manager_a)
    response = client.post(reverse("stores_bo:notifications_read"))
    assert said(response) == ["通知已全部标为已读"]
    assert not StoreNotification.objects.filter(user=manager_a, read_at__isnull=True).exists()


def test_a_line_taken_off_a_document_says_so(client, store_a, sku):
    hq = make_hq("hq_feedback")
    from django.contrib.auth.models import Permission

    hq.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="stores", codename__in=["view_stockdocument", "add_stockdocument",
                                                        "change_stockdocument"]))
    doc = documents.create_document(store_a, "receipt", by=hq)
    documents.set_line(doc, sku, 3, by=hq)
    line = doc.lines.get()
    client.force_login(hq)
    response = client.post(reverse("stores_bo:document_line_delete", args=[doc.pk, line.pk]), follow=True)
    assert "bo-message--success\">已从单据中移除该商品<" in response.content.decode() and not doc.lines.exists()
    again = client.post(reverse("stores_bo:document_line_delete", args=[doc.pk, line.pk]))
    assert said(again) == ["明细不存在"]


def _confirm_of(html, action):
    form = re.search(r'<form[^>]*action="' + re.escape(action) + r'"[^>]*>', html)
    assert form, action
    return re.search(r'data-confirm="([^"]+)"', form.group(0))


def test_the_transfers_irreversible_steps_ask_first(client, store_a, store_b, sku, clerk_a, clerk_b):
    services.receive_stock(store_a, sku, 10)
    transfer = services.create_transfer(store_a, store_b, [(sku, 3)], by=clerk_a)
    client.force_login(clerk_a)
    html = client.get(reverse("stores_bo:transfer_detail", args=[transfer.pk])).content.decode()
    assert "A店的库存扣出" in _confirm_of(html, reverse("stores_bo:transfer_dispatch", args=[transfer.pk])).group(1)
    assert _confirm_of(html, reverse("stores_bo:transfer_cancel", args=[transfer.pk]))
    services.dispatch_transfer(transfer, by=clerk_a)
    client.force_login(clerk_b)
    html = client.get(reverse("stores_bo:transfer_detail", args=[transfer.pk])).content.decode()
    assert "少到的件数将作为差异交总部处理" in _confirm_of(html, reverse("stores_bo:transfer_receive", args=[transfer.pk])).group(1)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_dispatch_waits_for_the_confirmation_then_says_it_is_done(live_server, page, screenshot):
    from .conftest import make_sku, make_staff

    source, destination = make_store("静安寺店", code="fb-src"), make_store("徐家汇店", code="fb-dst")
    tea = make_sku("龙井茶")
    services.receive_stock(source, tea, 10)
    clerk = make_staff(source, username="fb_clerk")
    transfer = services.create_transfer(source, destination, [(tea, 3)], by=clerk)
    login(page.context, live_server, clerk)
    page.goto(f"{live_server.url}/backoffice/stores/transfers/{transfer.pk}/")
    page.get_by_role("button", name="发货").click()
    dialog = page.locator(".obo-dialog")
    dialog.wait_for()
    assert "静安寺店的库存扣出" in dialog.inner_text()
    screenshot("feedback-transfer-dispatch-confirm")
    dialog.get_by_role("button", name="再想想").click()
    assert Transfer.objects.get(pk=transfer.pk).status == Transfer.Status.DRAFT
    page.get_by_role("button", name="发货").click()
    page.locator("[data-dialog-ok]").click()
    page.locator(".bo-message--success", has_text="已发货").wait_for()
    assert Transfer.objects.get(pk=transfer.pk).status == Transfer.Status.DISPATCHED
    assert Stock.objects.get(store=source, sku=tea).on_hand == 7
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot("feedback-transfer-dispatched")


def test_a_documents_irreversible_steps_ask_first_and_every_step_says_it_is_done(client, store_a, store_b, sku,
                                                                                  manager_a):
    """Post, cancel (作废) and reverse (冲销) carry a confirmation; creating, importing, posting, cancelling
    and reversing each end with a message saying what was done (the newest of the session's messages: no
    page in between shows them)."""
    from django.contrib.auth.models import Permission
    from django.core.files.uploadedfile import SimpleUploadedFile

    from stores.models import StockDocument

    manager_a.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="stores", codename__in=["view_stockdocument", "add_stockdocument",
                                                        "change_stockdocument"]))
    client.force_login(manager_a)
    created = client.post(reverse("stores_bo:document_create", args=["receipt"]),
                          {"store": store_a.pk, "source": "supplier"})
    doc = StockDocument.objects.get(kind="receipt")
    assert said(created)[-1:] == [f"单据 {doc.number} 已创建"]
    upload = SimpleUploadedFile("r.csv", f"SKU编码,数量\n{sku.code},4\n".encode(), content_type="text/csv")
    imported = client.post(reverse("stores_bo:document_import", args=[doc.pk]), {"file": upload})
    assert said(imported)[-1:] == ["已导入 1 行"]
    html = client.get(reverse("stores_bo:document", args=[doc.pk])).content.decode()
    assert "1 种商品共 4 件，过账后库存立即变化" in _confirm_of(html, reverse("stores_bo:document_post", args=[doc.pk])).group(1)
    assert "作废后单据不能再使用" in _confirm_of(html, reverse("stores_bo:document_cancel", args=[doc.pk])).group(1)
    posted = client.post(reverse("stores_bo:document_post", args=[doc.pk]))
    assert said(posted)[-1:] == [f"单据 {doc.number} 已过账，库存已更新"]
    html = client.get(reverse("stores_bo:document", args=[doc.pk])).content.decode()
    assert "冲销单" in _confirm_of(html, reverse("stores_bo:document_reverse", args=[doc.pk])).group(1)
    reversed_ = client.post(reverse("stores_bo:document_reverse", args=[doc.pk]))
    reversal = StockDocument.objects.exclude(pk=doc.pk).get()
    assert said(reversed_)[-1:] == [f"已生成冲销单 {reversal.number}"]
    draft = documents.create_document(store_a, "receipt", by=manager_a)
    assert said(client.post(reverse("stores_bo:document_cancel", args=[draft.pk])))[-1:] == ["单据已作废"]
    assert Stock.objects.get(store=store_a, sku=sku).on_hand == 0


def test_a_transfers_every_step_says_it_is_done(client, store_a, store_b, sku, clerk_a, clerk_b):
    services.receive_stock(store_a, sku, 10)
    client.force_login(clerk_a)
    created = client.post(reverse("stores_bo:transfer_create"),
                          {"source": store_a.pk, "destination": store_b.pk, "lines": f"{sku.code} 3"})
    transfer = Transfer.objects.get()
    assert said(created)[-1:] == ["调拨单已创建"]
    assert said(client.post(reverse("stores_bo:transfer_dispatch", args=[transfer.pk])))[-1:] == ["已发货"]
    client.force_login(clerk_b)
    line = transfer.lines.get()
    received = client.post(reverse("stores_bo:transfer_receive", args=[transfer.pk]), {f"received_{line.pk}": "3"})
    assert said(received)[-1:] == ["已收货"]
    again = services.create_transfer(store_b, store_a, [(sku, 1)], by=clerk_b)
    assert said(client.post(reverse("stores_bo:transfer_cancel", args=[again.pk])))[-1:] == ["调拨已取消"]
    assert Stock.objects.get(store=store_b, sku=sku).on_hand == 3
