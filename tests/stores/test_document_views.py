"""Back-office pages of stock documents and the product picker: scope, refusals that change
nothing, double posts, bad input, and query counts that do not grow with the rows shown."""

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from stores import documents, services
from stores.models import Stock, StockDocument, StockDocumentLine, StockMovement, StoreStaff, Transfer

from .conftest import make_sku, make_staff

pytestmark = pytest.mark.django_db

DOC_PERMS = ["view_stockdocument", "add_stockdocument", "change_stockdocument"]


def with_doc_perms(user):
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="stores", codename__in=DOC_PERMS))
    return type(user).objects.get(pk=user.pk)


@pytest.fixture
def manager(store_a):
    return with_doc_perms(make_staff(store_a, role=StoreStaff.Role.MANAGER, username="doc_mgr_a"))


@pytest.fixture
def manager_b(store_b):
    return with_doc_perms(make_staff(store_b, role=StoreStaff.Role.MANAGER, username="doc_mgr_b"))


@pytest.fixture
def hq(hq_user):
    return with_doc_perms(hq_user)


def state():
    return (
        list(Stock.objects.order_by("pk").values_list("pk", "on_hand", "reserved")),
        StockMovement.objects.count(),
        list(StockDocument.objects.order_by("pk").values_list("pk", "state")),
        list(StockDocumentLine.objects.order_by("pk").values_list("pk", "sku_id", "quantity", "unit_cost", "counted")),
    )


def notes(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def count_queries(client, url, **params):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200, (url, response.status_code)
    return len(ctx.captured_queries), response


def picker_queries(client, url, **params):
    """The statements a request ran besides reading its session and user (a query on SQLite)."""
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200, (url, response.status_code)
    own = [q["sql"] for q in ctx.captured_queries if "django_session" not in q["sql"] and "members_user" not in q["sql"]]
    return own, response


# --- the picker --------------------------------------------------------------------------------
def test_picker_finds_by_name_code_and_barcode_with_the_stores_available_stock(client, store_a, manager):
    tea = make_sku("西湖龙井")
    tea.barcode, tea.spec_text = "6901234567892", "250g"
    tea.save()
    services.receive_stock(store_a, tea, 9)
    services.reserve_lines(store_a, [(tea, 2)], reference="order:1")
    client.force_login(manager)
    url = reverse("stores_bo:picker")
    for q in ("龙井", tea.code.lower(), "6901234567892"):
        response = client.get(url, {"store": store_a.pk, "q": q})
        html = response.content.decode()
        assert f'data-sku="{tea.pk}"' in html and "250g" in html and "可用 7" in html, q
    exact = client.get(url, {"store": store_a.pk, "q": "6901234567892"}).content.decode()
    assert "data-exact" in exact
    none = client.get(url, {"store": store_a.pk, "q": "0000000000000"}).content.decode()
    assert 'data-testid="picker-none"' in none


def test_picker_marks_a_barcode_shared_by_two_skus(client, store_a, manager):
    one, two = make_sku("甲"), make_sku("乙")
    for sku in (one, two):
        sku.barcode = "6900000000001"
        sku.save()
    client.force_login(manager)
    html = client.get(reverse("stores_bo:picker"), {"store": store_a.pk, "q": "6900000000001"}).content.decode()
    assert html.count("data-exact") == 2 and 'data-testid="picker-ambiguous"' in html


def test_picker_refuses_another_stores_id_and_survives_bad_queries(client, store_a, store_b, manager):
    client.force_login(manager)
    url = reverse("stores_bo:picker")
    for q in ("x", ""):  # with or without a search, the store is checked
        assert client.get(url, {"store": store_b.pk, "q": q}).status_code == 404
        assert client.get(url, {"store": "9" * 30, "q": q}).status_code == 404
        assert client.get(url, {"store": "１", "q": q}).status_code == 404
    assert client.get(url, {"store": store_a.pk, "q": ""}).content == b""
    assert client.get(url, {"q": "x"}).status_code == 200  # no store: the first of theirs, as before
    for q in ("x" * 10000, "１２", "' OR 1=1 --", "%", "_"):
        assert client.get(url, {"store": store_a.pk, "q": q}).status_code == 200
    for q in ("\x00", "a\x00b"):  # a NUL anywhere is refused before the view (core.middleware)
        assert client.get(url, {"store": store_a.pk, "q": q}).status_code == 400


def test_picker_query_count_does_not_grow_with_matches(client, store_a, manager):
    client.force_login(manager)
    url = reverse("stores_bo:picker")
    client.get(url, {"store": store_a.pk, "q": "热身"})  # the first page of a login reads the permissions
    for i in range(2):
        make_sku(f"绿茶{i}")
    few, _ = picker_queries(client, url, store=store_a.pk, q="绿茶")
    for i in range(2, 30):
        services.receive_stock(store_a, make_sku(f"绿茶{i}"), 3)
    many, response = picker_queries(client, url, store=store_a.pk, q="绿茶")
    assert len(few) == len(many) == 1  # the store check and the search: one statement
    assert response.content.decode().count("data-pick ") == 20


def test_picker_shows_an_archived_store_to_nobody_and_any_store_to_hq(client, store_a, store_b, manager, hq):
    sku = make_sku("白毫银针")
    services.receive_stock(store_b, sku, 4)
    url = reverse("stores_bo:picker")
    client.force_login(hq)
    assert "可用 4" in client.get(url, {"store": store_b.pk, "q": "白毫银针"}).content.decode()
    assert "本店无库存记录" in client.get(url, {"store": store_a.pk, "q": "白毫银针"}).content.decode()
    store_a.is_archived = True
    store_a.save(update_fields=["is_archived"])
    assert client.get(url, {"store": store_a.pk, "q": "白毫银针"}).status_code == 404
    client.force_login(manager)
    assert client.get(url, {"store": store_a.pk, "q": "白毫银针"}).status_code == 404


def test_picker_escapes_what_it_shows_and_leaves_out_disabled_skus(client, store_a, manager):
    odd = make_sku('<b>"茶"</b> & 点心')
    odd.spec_text, odd.barcode = "<i>50g</i>", "69'01"
    odd.save()
    off = make_sku("<b>停售茶</b>")
    off.is_enabled = False
    off.save()
    client.force_login(manager)
    url = reverse("stores_bo:picker")
    html = client.get(url, {"store": store_a.pk, "q": "<b>"}).content.decode()
    assert "<b>" not in html and "<i>" not in html and f'data-sku="{odd.pk}"' in html
    assert "&lt;b&gt;&quot;茶&quot;&lt;/b&gt; &amp; 点心" in html and "69&#x27;01" in html
    assert f'data-sku="{off.pk}"' not in html
    none = client.get(url, {"store": store_a.pk, "q": "<script>"}).content.decode()
    assert "<script>" not in none and "&lt;script&gt;" in none


# --- creating and filling a document ------------------------------------------------------------
def test_manager_receives_into_own_store_through_the_pages(client, store_a, manager):
    sku = make_sku("新品")
    client.force_login(manager)
    response = client.post(reverse("stores_bo:document_create", args=["receipt"]),
                           {"store": store_a.pk, "source": "supplier", "supplier": "茶农老王", "note": ""})
    doc = StockDocument.objects.get()
    assert response.status_code == 302 and response.url == reverse("stores_bo:document", args=[doc.pk])
    line_url = reverse("stores_bo:document_line", args=[doc.pk])
    client.post(line_url, {"sku": sku.pk, "quantity": "12", "unit_cost": "8.50"})
    client.post(line_url, {"sku": sku.pk, "quantity": "12", "unit_cost": "8.50"})  # a double tap
    assert list(doc.lines.values_list("quantity", flat=True)) == [12]
    post_url = reverse("stores_bo:document_post", args=[doc.pk])
    first = client.post(post_url)
    second = client.post(post_url)  # a second tab
    assert "已过账" in notes(first)[-1] and "未重复过账" in notes(second)[-1]
    assert Stock.objects.get(store=store_a, sku=sku).on_hand == 12
    assert StockMovement.objects.filter(reference=f"doc:{doc.number}").count() == 1
    detail = client.get(reverse("stores_bo:document", args=[doc.pk])).content.decode()
    assert "已过账" in detail and "茶农老王" in detail and 'data-testid="line-form"' not in detail


def test_a_scanned_barcode_adds_the_line_without_the_picker(client, store_a, manager):
    sku = make_sku("扫码商品")
    sku.barcode = "6901111111111"
    sku.save()
    doc = documents.create_document(store_a, "receipt", by=manager)
    client.force_login(manager)
    client.post(reverse("stores_bo:document_line", args=[doc.pk]), {"q": "6901111111111", "quantity": "3"})
    assert list(doc.lines.values_list("sku_id", "quantity")) == [(sku.pk, 3)]


def test_unknown_and_ambiguous_barcodes_are_refused_with_a_message(client, store_a, manager):
    one, two = make_sku("甲"), make_sku("乙")
    for sku in (one, two):
        sku.barcode = "6900000000002"
        sku.save()
    doc = documents.create_document(store_a, "receipt", by=manager)
    client.force_login(manager)
    url = reverse("stores_bo:document_line", args=[doc.pk])
    before = state()
    unknown = client.post(url, {"q": "6909999999999", "quantity": "1"})
    assert "没有匹配的商品" in notes(unknown)[-1]
    ambiguous = client.post(url, {"q": "6900000000002", "quantity": "1"})
    assert "匹配到多个商品" in notes(ambiguous)[-1]
    nothing = client.post(url, {"quantity": "1"})
    assert "请先搜索并选择商品" in notes(nothing)[-1]
    assert state() == before


BAD_FORM_QUANTITIES = ["-1", "0", "1.5", "１", "²", "\x00", "9" * 40, "2147483648", "", "abc", "1e3"]


@pytest.mark.parametrize("bad", BAD_FORM_QUANTITIES, ids=repr)
def test_bad_quantities_through_the_form_are_refused(client, store_a, manager, bad):
    sku = make_sku()
    doc = documents.create_document(store_a, "receipt", by=manager)
    client.force_login(manager)
    before = state()
    response = client.post(reverse("stores_bo:document_line", args=[doc.pk]), {"sku": sku.pk, "quantity": bad})
    if "\x00" in bad:  # refused before the view (core.middleware)
        assert response.status_code == 400 and state() == before
        return
    assert response.status_code == 302 and "数量必须是" in notes(response)[-1]
    assert state() == before


@pytest.mark.parametrize("bad_sku", ["0", "-1", "9" * 30, "\x00", "abc", "１"], ids=repr)
def test_bad_sku_ids_are_refused(client, store_a, manager, bad_sku):
    doc = documents.create_document(store_a, "receipt", by=manager)
    client.force_login(manager)
    before = state()
    response = client.post(reverse("stores_bo:document_line", args=[doc.pk]), {"sku": bad_sku, "quantity": "1"})
    assert (response.status_code == 400) if "\x00" in bad_sku else (response.status_code == 302 and notes(response))
    assert state() == before


def test_a_stocktake_is_counted_and_shows_its_variances_before_posting(client, store_a, manager):
    tea = make_sku("茶")
    services.receive_stock(store_a, tea, 10)
    client.force_login(manager)
    client.post(reverse("stores_bo:document_create", args=["stocktake"]), {"store": store_a.pk, "category": ""})
    sheet = StockDocument.objects.get(kind="stocktake")
    client.post(reverse("stores_bo:document_line", args=[sheet.pk]), {"sku": tea.pk, "quantity": "7"})
    html = client.get(reverse("stores_bo:document", args=[sheet.pk])).content.decode()
    assert 'data-testid="line-variance">-3<' in html and "盘亏 3 件" in html
    client.post(reverse("stores_bo:document_post", args=[sheet.pk]))
    assert Stock.objects.get(store=store_a, sku=tea).on_hand == 7


# --- scope and state ----------------------------------------------------------------------------
def test_another_stores_manager_gets_404_and_changes_nothing(client, store_a, store_b, manager, manager_b):
    sku = make_sku()
    doc = documents.create_document(store_a, "receipt", by=manager)
    line = documents.set_line(doc, sku, 2, by=manager)
    client.force_login(manager_b)
    before = state()
    for name, args in [("document", [doc.pk]), ("document_line", [doc.pk]), ("document_post", [doc.pk]),
                       ("document_cancel", [doc.pk]), ("document_reverse", [doc.pk]),
                       ("document_line_delete", [doc.pk, line.pk])]:
        url = reverse(f"stores_bo:{name}", args=args)
        response = client.post(url, {"sku": sku.pk, "quantity": "9"}) if name != "document" else client.get(url)
        assert response.status_code == 404, name
    # and cannot create one for store A by sending its id
    response = client.post(reverse("stores_bo:document_create", args=["receipt"]),
                           {"store": store_a.pk, "source": "supplier"})
    assert response.status_code == 200 and response.context["form"].errors
    assert state() == before
    assert client.get(reverse("stores_bo:documents")).context["docs"].__len__() == 0


def test_hq_receives_into_any_store(client, store_a, store_b, hq):
    client.force_login(hq)
    response = client.post(reverse("stores_bo:document_create", args=["receipt"]),
                           {"store": store_b.pk, "source": "hq"})
    assert response.status_code == 302
    assert StockDocument.objects.get().store == store_b


def test_a_posted_document_refuses_every_change_through_the_pages(client, store_a, manager):
    sku, other = make_sku(), make_sku()
    doc = documents.create_document(store_a, "receipt", by=manager)
    line = documents.set_line(doc, sku, 2, by=manager)
    documents.post_document(doc, by=manager)
    client.force_login(manager)
    before = state()
    for url, data in [(reverse("stores_bo:document_line", args=[doc.pk]), {"sku": other.pk, "quantity": "5"}),
                      (reverse("stores_bo:document_line_delete", args=[doc.pk, line.pk]), {}),
                      (reverse("stores_bo:document_cancel", args=[doc.pk]), {})]:
        response = client.post(url, data)
        assert response.status_code == 302 and "不能修改" in notes(response)[-1]
    assert state() == before


def test_a_clerk_cannot_post(client, store_a, manager):
    clerk = with_doc_perms(make_staff(store_a, username="doc_clerk"))
    sku = make_sku()
    doc = documents.create_document(store_a, "receipt", by=clerk)
    documents.set_line(doc, sku, 2, by=clerk)
    client.force_login(clerk)
    assert 'data-testid="document-post"' not in client.get(reverse("stores_bo:document", args=[doc.pk])).content.decode()
    before = state()
    response = client.post(reverse("stores_bo:document_post", args=[doc.pk]))
    assert "店长" in notes(response)[-1]
    assert state() == before


def test_huge_and_unknown_ids_are_404(client, store_a, manager):
    client.force_login(manager)
    assert client.get("/backoffice/stores/documents/99999999999999999999999/").status_code == 404
    assert client.post("/backoffice/stores/documents/99999999999999999999999/post/").status_code == 404
    assert client.get(reverse("stores_bo:document_create", args=["transfer"])).status_code == 404
    doc = documents.create_document(store_a, "receipt", by=manager)
    response = client.post(f"/backoffice/stores/documents/{doc.pk}/lines/99999999999999999999999/delete/")
    assert response.status_code == 302 and "明细不存在" in notes(response)[-1]


# --- query budgets ------------------------------------------------------------------------------
def test_document_detail_does_not_grow_with_lines(client, store_a, manager):
    client.force_login(manager)

    def detail(n, kind):
        doc = documents.create_document(store_a, kind, by=manager,
                                        issue_reason="damage" if kind == "issue" else "")
        for i in range(n):
            sku = make_sku(f"行{kind}{n}-{i}")
            services.receive_stock(store_a, sku, 5)
            if kind == "stocktake":
                documents.record_count(doc, sku, 4, by=manager)
            else:
                documents.set_line(doc, sku, 1, unit_cost="1.00" if kind == "receipt" else None, by=manager)
        return count_queries(client, reverse("stores_bo:document", args=[doc.pk]))[0]

    for kind in ("receipt", "stocktake"):
        assert detail(2, kind) == detail(30, kind) <= 14, kind


def test_document_list_does_not_grow_with_documents(client, store_a, manager):
    client.force_login(manager)
    for _ in range(2):
        documents.create_document(store_a, "receipt", by=manager)
    few, _ = count_queries(client, reverse("stores_bo:documents"))
    for _ in range(30):
        documents.create_document(store_a, "receipt", by=manager)
    many, response = count_queries(client, reverse("stores_bo:documents"))
    assert few == many <= 10
    assert len(response.context["docs"]) == 30


def test_the_admin_shows_documents_read_only_and_only_the_users_stores(client, store_a, store_b, manager,
                                                                       manager_b):
    sku = make_sku()
    doc = documents.create_document(store_a, "receipt", by=manager)
    documents.set_line(doc, sku, 2, by=manager)
    documents.post_document(doc, by=manager)
    for user in (manager, manager_b):
        user.is_staff = True
        user.save()
    client.force_login(manager)
    change = reverse("admin:stores_stockdocument_change", args=[doc.pk])
    page = client.get(change)
    assert page.status_code == 200 and doc.number in page.content.decode()
    assert 'name="_save"' not in page.content.decode()
    assert client.post(change, {"note": "改了"}).status_code == 403
    assert client.get(reverse("admin:stores_stockdocument_add")).status_code == 403
    assert StockDocument.objects.get(pk=doc.pk).note == ""
    client.force_login(manager_b)
    assert client.get(change).status_code == 404


def test_the_transfer_form_carries_the_picker_for_the_source_store(client, store_a, clerk_a):
    client.force_login(clerk_a)
    html = client.get(reverse("stores_bo:transfer_create")).content.decode()
    assert 'data-testid="transfer-picker"' in html and f'{{"store": "{store_a.pk}"}}' in html
    assert 'data-picker-store="#transfer-picker"' in html


def test_the_stock_page_links_to_a_receipt_for_its_store(client, store_a, manager, clerk_a):
    client.force_login(manager)
    html = client.get(reverse("stores_bo:stock"), {"store": store_a.pk}).content.decode()
    link = f'{reverse("stores_bo:document_create", args=["receipt"])}?store={store_a.pk}'
    assert link in html
    form = client.get(link).context["form"]
    assert form["store"].value() == store_a.pk
    client.force_login(clerk_a)  # no document permission: no button
    assert link not in client.get(reverse("stores_bo:stock"), {"store": store_a.pk}).content.decode()


def test_an_issue_through_the_pages_needs_a_reason_and_takes_stock_out(client, store_a, manager):
    sku = make_sku("破损杯")
    services.receive_stock(store_a, sku, 5)
    client.force_login(manager)
    url = reverse("stores_bo:document_create", args=["issue"])
    response = client.post(url, {"store": store_a.pk, "issue_reason": ""})
    assert response.status_code == 200 and response.context["form"].errors["issue_reason"]
    client.post(url, {"store": store_a.pk, "issue_reason": "damage", "note": "运输破损"})
    doc = StockDocument.objects.get(kind="issue")
    client.post(reverse("stores_bo:document_line", args=[doc.pk]), {"sku": sku.pk, "quantity": "6"})
    too_many = client.post(reverse("stores_bo:document_post", args=[doc.pk]))
    assert "库存不足" in notes(too_many)[-1]
    assert Stock.objects.get(store=store_a, sku=sku).on_hand == 5
    client.post(reverse("stores_bo:document_line", args=[doc.pk]), {"sku": sku.pk, "quantity": "2"})
    client.post(reverse("stores_bo:document_post", args=[doc.pk]))
    assert Stock.objects.get(store=store_a, sku=sku).on_hand == 3
    assert StockMovement.objects.get(reference=f"doc:{doc.number}").reason == "issue"
    html = client.get(reverse("stores_bo:document", args=[doc.pk])).content.decode()
    assert "报损" in html and "运输破损" in html


@pytest.mark.parametrize("field, value", [
    ("note", "a\x00b"), ("note", "长" * 201), ("supplier", "\x00"), ("supplier", "x" * 65), ("source", "evil"),
    ("store", "9" * 30), ("store", "１"),
])
def test_bad_header_values_are_refused_by_the_form(client, store_a, manager, field, value):
    client.force_login(manager)
    data = {"store": store_a.pk, "source": "supplier", field: value}
    response = client.post(reverse("stores_bo:document_create", args=["receipt"]), data)
    if "\x00" in value:  # refused before the view (core.middleware)
        assert response.status_code == 400
    else:
        assert response.status_code == 200 and response.context["form"].errors
    assert not StockDocument.objects.exists()


def test_hq_filters_the_list_by_store_and_an_out_of_scope_store_is_ignored(client, store_a, store_b, hq, manager):
    in_a = documents.create_document(store_a, "receipt", by=hq)
    in_b = documents.create_document(store_b, "receipt", by=hq)
    client.force_login(hq)
    url = reverse("stores_bo:documents")
    assert [d.pk for d in client.get(url, {"store": store_b.pk}).context["docs"]] == [in_b.pk]
    assert {d.pk for d in client.get(url, {"store": "１"}).context["docs"]} == {in_a.pk, in_b.pk}
    assert client.get(url, {"store": "x\x00"}).status_code == 400
    client.force_login(manager)  # one store: no filter, and store B's id shows nothing of B
    response = client.get(url, {"store": store_b.pk})
    assert [d.pk for d in response.context["docs"]] == [in_a.pk]
    assert 'data-testid="document-store-filter"' not in response.content.decode()


def test_the_picker_and_document_lines_show_the_products_unit(client, store_a, hq):
    hq_user = hq
    sku = make_sku("单位礼盒")
    sku.product.unit = "盒"
    sku.product.save(update_fields=["unit"])
    services.receive_stock(store_a, sku, 5)
    client.force_login(hq_user)
    html = client.get(reverse("stores_bo:picker"), {"store": store_a.pk, "q": "单位礼盒"}).content.decode()
    assert "可用 5 盒" in html and "单位：盒" in html and "（盒）" in html
    receipt = documents.create_document(store_a, "receipt", by=hq_user)
    documents.set_line(receipt, sku, 3, by=hq_user)
    page = client.get(reverse("stores_bo:document", args=[receipt.pk])).content.decode()
    assert "× 3 盒" in page and "可用 5 盒" in page


def test_a_one_store_clerk_sends_from_their_store_and_never_to_it(client, store_a, store_b, clerk_a, hq_user, sku):
    services.receive_stock(store_a, sku, 5)
    client.force_login(clerk_a)
    form = client.get(reverse("stores_bo:transfer_create")).context["form"]
    assert form["source"].value() == store_a.pk
    assert [choice for choice, _label in form.fields["source"].choices] == [store_a.pk]  # no "---------"
    destinations = [value for value, _label in form.fields["destination"].choices if value != ""]
    assert store_b.pk in destinations and store_a.pk not in destinations
    # a posted form naming the store as its own destination is refused, nothing made
    response = client.post(reverse("stores_bo:transfer_create"),
                           {"source": store_a.pk, "destination": store_a.pk, "lines": f"{sku.code} 1"})
    assert response.status_code == 200 and response.context["form"].errors["destination"]
    assert not Transfer.objects.exists()
    # HQ (every store) still chooses the source
    client.force_login(hq_user)
    form = client.get(reverse("stores_bo:transfer_create")).context["form"]
    assert form["source"].value() is None
    assert {store_a.pk, store_b.pk} <= {value for value, _label in form.fields["destination"].choices}


def test_a_one_store_manager_too_and_a_second_store_archived_leaves_one(client, store_a, store_b, sku):
    """The issue asks it for a manager: the same preselection, whose 'one store' counts working
    stores (a second store archived leaves one); with two working stores the manager chooses."""
    manager = make_staff(store_a, role=StoreStaff.Role.MANAGER)
    client.force_login(manager)
    form = client.get(reverse("stores_bo:transfer_create")).context["form"]
    assert form["source"].value() == store_a.pk
    assert store_a.pk not in [value for value, _label in form.fields["destination"].choices]
    StoreStaff.objects.create(user=manager, store=store_b, role=StoreStaff.Role.MANAGER)
    form = client.get(reverse("stores_bo:transfer_create")).context["form"]
    assert form["source"].value() is None and store_a.pk in [v for v, _label in form.fields["destination"].choices]
    store_b.is_archived = True
    store_b.save(update_fields=["is_archived"])
    form = client.get(reverse("stores_bo:transfer_create")).context["form"]
    assert form["source"].value() == store_a.pk
