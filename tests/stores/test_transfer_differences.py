"""A transfer received short: the shortage in words on the line and the transfer, kept open until
HQ settles it (written off, back to the source, or late into the destination) through the stock
ledger under transfer:<id>:difference:<line>, once; managers cannot, other stores see a 404."""

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from stores import services
from stores.errors import TransferError
from stores.models import Stock, StockMovement, StoreStaff, Transfer, TransferEvent
from stores.transfer_differences import resolve_difference

from .conftest import make_sku, make_staff, make_store

pytestmark = pytest.mark.django_db


def _ledger_ok(stock):
    stock.refresh_from_db()
    return stock.on_hand == (stock.movements.aggregate(q=Sum("quantity"))["q"] or 0)


def _short_transfer(store_a, store_b, clerk_a, clerk_b, *, sent=(6,), received=(5,)):
    skus = [make_sku(f"短收{i}") for i in range(len(sent))]
    for sku in skus:
        services.receive_stock(store_a, sku, 10)
    transfer = services.create_transfer(store_a, store_b, list(zip(skus, sent, strict=True)), by=clerk_a)
    services.dispatch_transfer(transfer, by=clerk_a)
    lines = list(transfer.lines.order_by("sku_id"))
    services.receive_transfer(transfer, {line.pk: n for line, n in zip(lines, received, strict=True)}, by=clerk_b,
                              note="外箱破损")
    transfer.refresh_from_db()
    return transfer, lines, skus


def _state(transfer):
    transfer.refresh_from_db()
    return (
        transfer.difference_status,
        list(transfer.lines.order_by("pk").values_list("resolution", flat=True)),
        dict(Stock.objects.filter(sku__in=transfer.lines.values("sku")).values_list("pk", "on_hand")),
        StockMovement.objects.count(),
        TransferEvent.objects.filter(transfer=transfer).count(),
    )


def test_a_short_receipt_reads_in_words_on_the_line_and_the_transfer(client, store_a, store_b, clerk_a, clerk_b):
    transfer, lines, _skus = _short_transfer(store_a, store_b, clerk_a, clerk_b)
    assert (transfer.difference_status, transfer.short_quantity) == ("open", 1)
    assert transfer.events.last().note == "少到 1 件，差异待处理 外箱破损"
    client.force_login(clerk_b)
    html = client.get(reverse("stores_bo:transfer_detail", args=[transfer.pk])).content.decode()
    assert 'data-testid="transfer-difference">少到 1 件，差异待处理</p>' in html
    assert 'data-testid="line-difference">少到 1 件，差异待处理</span>' in html
    assert "处理收货差异" not in html  # the store explains; HQ settles
    listing = client.get(reverse("stores_bo:transfers"), {"difference": "open"}).content.decode()
    assert str(transfer) in listing and "少到 1 件，差异待处理" in listing


def test_a_full_receipt_has_no_difference(store_a, store_b, clerk_a, clerk_b):
    transfer, _lines, _skus = _short_transfer(store_a, store_b, clerk_a, clerk_b, received=(6,))
    assert (transfer.difference_status, transfer.short_quantity) == ("", 0)
    with pytest.raises(TransferError) as info:
        resolve_difference(transfer, {transfer.lines.get().pk: "lost"}, by=make_staff_hq(), reason="无")
    assert info.value.code == "no_difference"


def make_staff_hq():
    from .conftest import make_hq

    return make_hq()


def test_hq_settles_each_line_through_the_ledger_once(client, store_a, store_b, clerk_a, clerk_b, hq_user):
    transfer, lines, skus = _short_transfer(store_a, store_b, clerk_a, clerk_b, sent=(6, 4, 3), received=(5, 2, 0))
    assert transfer.short_quantity == 1 + 2 + 3
    source_before = {sku.pk: Stock.objects.get(store=store_a, sku=sku).on_hand for sku in skus}
    client.force_login(hq_user)
    url = reverse("stores_bo:transfer_resolve", args=[transfer.pk])
    form = {f"resolution_{lines[0].pk}": "lost", f"resolution_{lines[1].pk}": "returned",
            f"resolution_{lines[2].pk}": "delivered", "reason": "承运方确认：1 件破损，2 件未装车，3 件次日送达"}
    response = client.post(url, form, follow=True)
    assert "已处理 3 行差异" in response.content.decode()
    transfer.refresh_from_db()
    assert transfer.difference_status == "resolved"
    # lost: no stock anywhere moves; returned: back into the source; delivered: into the destination
    assert Stock.objects.get(store=store_a, sku=skus[0]).on_hand == source_before[skus[0].pk]
    assert Stock.objects.get(store=store_a, sku=skus[1]).on_hand == source_before[skus[1].pk] + 2
    assert Stock.objects.get(store=store_b, sku=skus[2]).on_hand == 3
    moved = StockMovement.objects.filter(reference__contains=":difference:").order_by("reference")
    assert [(m.reference, m.quantity, m.reason) for m in moved] == [
        (f"transfer:{transfer.pk}:difference:{lines[1].pk}", 2, "transfer_in"),
        (f"transfer:{transfer.pk}:difference:{lines[2].pk}", 3, "transfer_in"),
    ]
    assert all(_ledger_ok(stock) for stock in Stock.objects.all())
    event = transfer.events.last()
    assert event.status == "resolved" and event.actor == hq_user and "未装车" in event.note
    html = response.content.decode()
    assert "少到 6 件，差异已处理" in html and "少到 1 件，已确认损耗" in html and "少到 2 件，已退回调出门店" in html

    # the double tap: the same form again settles nothing more
    before = _state(transfer)
    again = client.post(url, form, follow=True)
    assert "差异已经处理过，未重复处理" in again.content.decode()
    assert _state(transfer) == before
    assert resolve_difference(transfer, {lines[1].pk: "returned"}, by=hq_user, reason="再来一次") == 0
    assert _state(transfer) == before


def test_lines_may_be_settled_one_at_a_time(store_a, store_b, clerk_a, clerk_b, hq_user):
    transfer, lines, _skus = _short_transfer(store_a, store_b, clerk_a, clerk_b, sent=(6, 4), received=(5, 2))
    assert resolve_difference(transfer, {lines[0].pk: "lost"}, by=hq_user, reason="破损") == 1
    transfer.refresh_from_db()
    assert transfer.difference_status == "open"  # one short line is left
    assert resolve_difference(transfer, {lines[1].pk: "returned"}, by=hq_user, reason="未装车") == 1
    transfer.refresh_from_db()
    assert transfer.difference_status == "resolved"


def test_a_manager_cannot_settle_and_nothing_changes(client, store_a, store_b, clerk_a, clerk_b):
    transfer, lines, _skus = _short_transfer(store_a, store_b, clerk_a, clerk_b)
    manager = make_staff(store_b, role=StoreStaff.Role.MANAGER)
    before = _state(transfer)
    with pytest.raises(TransferError) as info:
        resolve_difference(transfer, {lines[0].pk: "lost"}, by=manager, reason="我说丢了")
    assert info.value.code == "not_hq"
    client.force_login(manager)
    response = client.post(reverse("stores_bo:transfer_resolve", args=[transfer.pk]),
                           {f"resolution_{lines[0].pk}": "lost", "reason": "我说丢了"})
    assert response.status_code == 403
    assert _state(transfer) == before


def test_another_stores_transfer_answers_404(client, store_a, store_b, clerk_a, clerk_b):
    transfer, lines, _skus = _short_transfer(store_a, store_b, clerk_a, clerk_b)
    outsider = make_staff(make_store("C店", code="store-c"), role=StoreStaff.Role.MANAGER)
    client.force_login(outsider)
    before = _state(transfer)
    assert client.get(reverse("stores_bo:transfer_detail", args=[transfer.pk])).status_code == 404
    response = client.post(reverse("stores_bo:transfer_resolve", args=[transfer.pk]),
                           {f"resolution_{lines[0].pk}": "lost", "reason": "x"})
    assert response.status_code == 404
    assert _state(transfer) == before


@pytest.mark.parametrize("form", [
    {"resolution_{line}": "lost", "reason": ""},                                  # no reason
    {"resolution_{line}": "lost", "reason": "   "},
    {"resolution_{line}": "lost", "reason": "长" * 5000},                          # huge
    {"resolution_{line}": "burn", "reason": "x"},                                 # not a resolution
    {"resolution_{line}": "丢失", "reason": "x"},
    {"resolution_١٢": "lost", "reason": "x"},                                     # non-ASCII digits
    {"resolution_99999999999999999999999": "lost", "reason": "x"},                # past bigint
    {"resolution_2147483647": "lost", "reason": "x"},                             # not this transfer's line
    {"resolution_-1": "lost", "reason": "x"},
    {"reason": "没有选择任何一行"},
])
def test_bad_input_gets_a_message_and_changes_nothing(client, store_a, store_b, clerk_a, clerk_b, hq_user, form):
    transfer, lines, _skus = _short_transfer(store_a, store_b, clerk_a, clerk_b)
    data = {key.replace("{line}", str(lines[0].pk)): value for key, value in form.items()}
    before = _state(transfer)
    client.force_login(hq_user)
    response = client.post(reverse("stores_bo:transfer_resolve", args=[transfer.pk]), data, follow=True)
    assert response.status_code == 200
    assert 'bo-message--error' in response.content.decode()
    assert _state(transfer) == before


def test_a_nul_is_refused_before_the_view(client, store_a, store_b, clerk_a, clerk_b, hq_user):
    transfer, lines, _skus = _short_transfer(store_a, store_b, clerk_a, clerk_b)
    before = _state(transfer)
    client.force_login(hq_user)
    for data in ({f"resolution_{lines[0].pk}": "lost\x00", "reason": "x"},
                 {f"resolution_{lines[0].pk}": "lost", "reason": "破\x00损"}):
        response = client.post(reverse("stores_bo:transfer_resolve", args=[transfer.pk]), data)
        assert response.status_code == 400
    assert _state(transfer) == before
    # the service refuses an unprintable-only reason by itself too
    with pytest.raises(TransferError) as info:
        resolve_difference(transfer, {lines[0].pk: "lost"}, by=hq_user, reason="\x00\x01")
    assert info.value.code == "reason_required"


def test_hq_sees_the_settle_form_and_the_list_tab(client, store_a, store_b, clerk_a, clerk_b, hq_user):
    transfer, lines, _skus = _short_transfer(store_a, store_b, clerk_a, clerk_b)
    settled, *_ = _short_transfer(store_a, store_b, clerk_a, clerk_b)
    resolve_difference(settled, {settled.lines.get().pk: "lost"}, by=hq_user, reason="破损")
    client.force_login(hq_user)
    html = client.get(reverse("stores_bo:transfer_detail", args=[transfer.pk])).content.decode()
    assert "处理收货差异" in html and f'name="resolution_{lines[0].pk}"' in html
    listing = client.get(reverse("stores_bo:transfers"), {"difference": "open"}).content.decode()
    assert str(transfer) in listing and str(settled) not in listing
    done = client.get(reverse("stores_bo:transfers"), {"difference": "resolved"}).content.decode()
    assert str(settled) in done and str(transfer) not in done


def test_the_transfer_list_does_not_grow_with_rows(client, store_a, store_b, clerk_a, clerk_b, hq_user):
    client.force_login(hq_user)
    url = reverse("stores_bo:transfers") + "?difference=open"

    def count():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured.captured_queries)

    _short_transfer(store_a, store_b, clerk_a, clerk_b)
    count()  # the first page of a session reads the permissions (core.permissions)
    few = count()
    for _ in range(5):
        _short_transfer(store_a, store_b, clerk_a, clerk_b)
    assert Transfer.objects.filter(difference_status="open").count() == 6
    assert count() == few


def test_stock_history_names_the_settlement(client, store_a, store_b, clerk_a, clerk_b, hq_user):
    from stores.references import describe

    transfer, lines, skus = _short_transfer(store_a, store_b, clerk_a, clerk_b)
    resolve_difference(transfer, {lines[0].pk: "returned"}, by=hq_user, reason="找到了")
    reference = f"transfer:{transfer.pk}:difference:{lines[0].pk}"
    label, url = describe([reference])[reference]
    assert label == f"调拨单 #{transfer.pk} · 收货差异 #{lines[0].pk}"
    assert url == reverse("stores_bo:transfer_detail", args=[transfer.pk])
    stock = Stock.objects.get(store=store_a, sku=skus[0])
    client.force_login(clerk_a)
    html = client.get(reverse("stores_bo:stock_history", args=[stock.pk])).content.decode()
    assert "收货差异" in html and "找到了" in html


def test_the_admin_shows_the_difference_but_cannot_change_it(client, store_a, store_b, clerk_a, clerk_b):
    from django.contrib.auth import get_user_model

    transfer, lines, _skus = _short_transfer(store_a, store_b, clerk_a, clerk_b)
    admin = get_user_model().objects.create_superuser("diff_admin", password="pw-12345678")
    client.force_login(admin)
    page = client.get(reverse("admin:stores_transfer_change", args=[transfer.pk])).content.decode()
    assert "差异待处理" in page
    assert 'name="lines-TOTAL_FORMS"' in page  # the lines inline is there, read-only
    assert 'name="difference_status"' not in page and 'name="lines-0-resolution"' not in page
    listing = client.get(reverse("admin:stores_transfer_changelist"), {"difference_status": "open"})
    assert listing.status_code == 200 and str(transfer) in listing.content.decode()
