"""The orders admin: orders, payments, refunds and after-sales are a read-only record (no add, no
change, no delete: the change page opens, a POST is refused), scoped to the user's stores; the
express fee rules are edited by HQ, and by store staff for their own stores only. Round trips: every
change page opens and saving it unchanged changes nothing; query counts do not grow."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orders import services
from orders.models import AfterSale, ExpressFeeRule, Order, PaymentAttempt, Refund
from orders.payments.services import refund_failed
from tests.forms import form_data

from .backoffice_support import ask_refund, make_hq, paid, snapshot
from .factories import make_order_staff, make_shopper, make_sku

pytestmark = pytest.mark.django_db
D = Decimal
READ_ONLY = ["order", "paymentattempt", "refund", "aftersale"]
ADMIN_PERMS = ["view_paymentattempt", "view_refund", "view_aftersale", "view_expressfeerule", "add_expressfeerule",
               "change_expressfeerule", "delete_expressfeerule", "change_paymentattempt", "change_refund",
               "change_aftersale", "delete_order", "add_order"]


def url(model, view="changelist", *args):
    return reverse(f"admin:orders_{model}_{view}", args=args)


def admin_staff(store):
    """A store manager with every orders model permission (scope, not permissions, must stop them)."""
    user = make_order_staff(store)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="orders", codename__in=ADMIN_PERMS))
    return get_user_model().objects.get(pk=user.pk)


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_user("orders-admin", password="x", is_staff=True, is_superuser=True)


@pytest.fixture
def milk(store):
    return make_sku("牛奶", price="20.00", stock=100, store=store)


def records(store, milk, manager, n, django_capture_on_commit_callbacks):
    """n orders with a payment, a refund (via an after-sale) each."""
    made = []
    for _ in range(n):
        order = paid(make_shopper(), store, [(milk, 2)])
        with django_capture_on_commit_callbacks(execute=True):
            after_sale = ask_refund(order, quantities={order.lines.get().pk: 1})
            services.approve_after_sale(after_sale, by=manager)
        made.append(order)
    return made


def obj_of(model, order):
    return {
        "order": order,
        "paymentattempt": PaymentAttempt.objects.filter(order=order).first(),
        "refund": Refund.objects.filter(order=order).first(),
        "aftersale": AfterSale.objects.filter(order=order).first(),
    }[model]


@pytest.mark.parametrize("model", [*READ_ONLY, "expressfeerule"])
def test_changelists_load_in_constant_queries(client, superuser, store, milk, manager, model,
                                              django_capture_on_commit_callbacks):
    client.force_login(superuser)
    records(store, milk, manager, 1, django_capture_on_commit_callbacks)

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url(model))
        assert response.status_code == 200
        return len(ctx.captured_queries), response

    one, _r = queries()
    records(store, milk, manager, 9, django_capture_on_commit_callbacks)
    ten, response = queries()
    assert one == ten
    if model != "expressfeerule":
        assert len(response.context["cl"].result_list) == 10


@pytest.mark.parametrize("model", READ_ONLY)
def test_read_only_records_open_and_refuse_a_post(client, store, milk, manager, model,
                                                  django_capture_on_commit_callbacks):
    [order] = records(store, milk, manager, 1, django_capture_on_commit_callbacks)
    obj = obj_of(model, order)
    staff = admin_staff(store)  # holds change/add/delete permissions, still read-only here
    client.force_login(staff)
    page = client.get(url(model, "change", obj.pk))
    assert page.status_code == 200
    before = snapshot(order)
    refund_before = list(Refund.objects.filter(order=order).values())
    data = form_data(page.content, f"{model}_form")  # the view page: a form with no inputs to change
    data.update({"status": "completed", "paid_amount": "0.01", "refunded_amount": "0", "amount": "999"})
    assert client.post(url(model, "change", obj.pk), data).status_code == 403
    assert client.get(url(model, "add")).status_code == 403
    assert client.post(url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert snapshot(order) == before
    assert list(Refund.objects.filter(order=order).values()) == refund_before
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_the_order_page_shows_lines_payments_refunds_and_events_and_links_to_the_back_office(
    client, store, milk, manager, django_capture_on_commit_callbacks
):
    [order] = records(store, milk, manager, 1, django_capture_on_commit_callbacks)
    client.force_login(admin_staff(store))
    html = client.get(url("order", "change", order.pk)).content.decode()
    refund = Refund.objects.get(order=order)
    assert "牛奶" in html and refund.out_refund_no in html and reverse("orders_bo:detail", args=[order.pk]) in html
    assert order.pickup_code not in html and order.checkout_token not in html
    phone = order.user.phone.removeprefix("+86")
    assert phone not in html and f"{phone[:3]}****{phone[-4:]}" in html
    refund_page = client.get(url("refund", "change", refund.pk)).content.decode()
    assert "申请退款" in refund_page and "退款成功" in refund_page  # its payment events


def test_store_staff_see_only_their_stores_records(client, store, other_store, milk, manager, other_manager,
                                                   django_capture_on_commit_callbacks):
    [ours] = records(store, milk, manager, 1, django_capture_on_commit_callbacks)
    theirs_sku = make_sku("外店牛奶", price="20.00", stock=10, store=other_store)
    [theirs] = records(other_store, theirs_sku, other_manager, 1, django_capture_on_commit_callbacks)
    client.force_login(admin_staff(store))
    for model in READ_ONLY:
        listed = client.get(url(model)).context["cl"].result_list
        assert {obj_of(model, ours).pk} == {row.pk for row in listed}, model
        assert client.get(url(model, "change", obj_of(model, theirs).pk)).status_code == 404, model
    filters = client.get(url("order")).content.decode()
    assert other_store.name not in filters  # the store filter lists the user's stores only
    hq = make_hq()
    hq.user_permissions.add(*Permission.objects.filter(content_type__app_label="orders", codename__in=ADMIN_PERMS))
    client.force_login(get_user_model().objects.get(pk=hq.pk))
    assert len(client.get(url("order")).context["cl"].result_list) == 2
    narrowed = client.get(url("order"), {"store": other_store.pk}).context["cl"].result_list
    assert [o.pk for o in narrowed] == [theirs.pk]
    assert client.get(url("order"), {"store": "²"}).status_code in (200, 302)


def test_hq_edits_the_default_express_rule_and_saving_unchanged_changes_nothing(client, superuser):
    rule = ExpressFeeRule.objects.get(store__isnull=True)
    client.force_login(superuser)
    page = client.get(url("expressfeerule", "change", rule.pk))
    assert page.status_code == 200
    before = ExpressFeeRule.objects.filter(pk=rule.pk).values("store", "base_fee", "free_over", "excluded_provinces",
                                                              "is_active").get()
    data = form_data(page.content, "expressfeerule_form")
    assert client.post(url("expressfeerule", "change", rule.pk), data).status_code == 302
    assert ExpressFeeRule.objects.filter(pk=rule.pk).values(*before).get() == before
    data["base_fee"] = ["12.00"]
    data["excluded_provinces"] = ["西藏自治区"]
    assert client.post(url("expressfeerule", "change", rule.pk), data).status_code == 302
    rule.refresh_from_db()
    assert rule.base_fee == D("12.00") and rule.excluded == ["西藏自治区"]


def test_store_staff_edit_their_own_stores_rule_only(client, store, other_store):
    hq_rule = ExpressFeeRule.objects.get(store__isnull=True)
    theirs = ExpressFeeRule.objects.create(store=other_store, base_fee=D("8.00"))
    staff = admin_staff(store)
    client.force_login(staff)
    assert client.get(url("expressfeerule", "change", hq_rule.pk)).status_code == 404
    assert client.get(url("expressfeerule", "change", theirs.pk)).status_code == 404
    assert [r.pk for r in client.get(url("expressfeerule")).context["cl"].result_list] == []
    add = client.get(url("expressfeerule", "add"))
    assert add.status_code == 200
    data = form_data(add.content, "expressfeerule_form")
    assert data["store"] == [""] or data["store"] == [str(store.pk)]
    without_store = {**data, "store": [""], "base_fee": ["6.00"]}
    refused = client.post(url("expressfeerule", "add"), without_store)
    assert refused.status_code == 200 and "store" in refused.context["adminform"].form.errors
    other = client.post(url("expressfeerule", "add"), {**data, "store": [str(other_store.pk)], "base_fee": ["6.00"]})
    assert other.status_code == 200 and other.context["adminform"].form.errors
    assert ExpressFeeRule.objects.count() == 2
    ok = client.post(url("expressfeerule", "add"), {**data, "store": [str(store.pk)], "base_fee": ["6.00"]})
    assert ok.status_code == 302
    mine = ExpressFeeRule.objects.get(store=store)
    assert mine.base_fee == D("6.00")
    page = client.get(url("expressfeerule", "change", mine.pk))
    unchanged = form_data(page.content, "expressfeerule_form")
    assert client.post(url("expressfeerule", "change", mine.pk), unchanged).status_code == 302
    assert ExpressFeeRule.objects.get(pk=mine.pk).base_fee == D("6.00")
    moved = client.post(url("expressfeerule", "change", mine.pk), {**unchanged, "store": [str(other_store.pk)]})
    assert moved.status_code == 200 and ExpressFeeRule.objects.get(pk=mine.pk).store_id == store.pk
    hq_rule.refresh_from_db()
    theirs.refresh_from_db()
    assert (hq_rule.base_fee, theirs.base_fee) == (D("10.00"), D("8.00"))


@pytest.mark.parametrize("fee", ["-1", "abc", "1e400", "\x00", "NaN", "9" * 20])
def test_bad_fees_are_form_errors(client, superuser, fee):
    rule = ExpressFeeRule.objects.get(store__isnull=True)
    client.force_login(superuser)
    data = form_data(client.get(url("expressfeerule", "change", rule.pk)).content, "expressfeerule_form")
    response = client.post(url("expressfeerule", "change", rule.pk), {**data, "base_fee": [fee]})
    if fee == "\x00":  # a NUL anywhere: 400 before the admin (core.middleware)
        assert response.status_code == 400
    else:
        assert response.status_code == 200 and response.context["adminform"].form.errors
    assert ExpressFeeRule.objects.get(pk=rule.pk).base_fee == D("10.00")


def test_an_abnormal_refund_is_visible_read_only(client, store, milk, manager):
    order = paid(make_shopper(), store, [(milk, 1)])
    after_sale = ask_refund(order)
    services.approve_after_sale(after_sale, by=manager)
    refund = Refund.objects.get(order=order)
    refund_failed(refund.pk, abnormal=True)
    client.force_login(admin_staff(store))
    page = client.get(url("refund"), {"state": "abnormal"})
    assert [r.pk for r in page.context["cl"].result_list] == [refund.pk]
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
