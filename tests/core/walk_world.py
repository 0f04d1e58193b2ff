"""The small world the URL walk (test_url_walk.py) runs in: two stores, a few SKUs with stock, a
shopper with an address, points and coupons, orders in the states the pages act on (pending, paid
for pickup, express and delivery, with an after-sale), a transfer, a low-stock alert and its
notification, points-mall items and an exchange, a reconciliation run, and the staff who look at
them: HQ, a store clerk of the first store, and a superuser for the admin.

`real_kwargs(world)` gives, for every URL name with a path converter, the real values that fill
it: the walk fails (naming the URL) when a new pattern has none, so every page is walked with ids
that exist as well as with bad ones.
"""

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone


@dataclass
class World:
    store: object
    other_store: object
    skus: list
    shopper: object
    hq: object
    clerk: object
    superuser: object
    objects: dict = field(default_factory=dict)  # name -> model instance


def _staff_with(username, permissions, store=None, role=None):
    from stores.models import StoreStaff

    user = get_user_model().objects.create_user(username, password="pw-walk-123456", is_staff=True)
    user.user_permissions.add(*permissions)
    if store is not None:
        StoreStaff.objects.create(user=user, store=store, role=role or StoreStaff.Role.CLERK)
    return get_user_model().objects.get(pk=user.pk)


def build_world():
    from marketing import services as marketing_services
    from marketing.models import MemberCoupon
    from members import services as member_services
    from members.models import LegalDocument
    from orders import services as order_services
    from orders.demo import MANAGER_PERMISSIONS
    from orders.models import AfterSale, ExpressFeeRule, PaymentAttempt, ReconciliationRun
    from stores import services as stock_services
    from stores.demo import STAFF_PERMISSIONS
    from stores.models import LowStockAlert, Stock, StoreNotification
    from tests.marketing.factories import make_coupon, make_coupon_item, make_product_item
    from tests.orders.factories import checkout, make_shopper, make_sku, make_store, pay

    if not ExpressFeeRule.objects.filter(store__isnull=True).exists():
        ExpressFeeRule.objects.create(store=None, base_fee=Decimal("10.00"), free_over=Decimal("99.00"))
    store = make_store("静安寺店")
    other = make_store("徐家汇店", lat=31.19, lng=121.43)
    tea = make_sku("龙井茶", price="25.50", stock=40, store=store)
    nuts = make_sku("每日坚果", price="20.00", stock=40, store=store)
    stock_services.receive_stock(other, tea, 10, reference="walk:other")

    shopper = make_shopper()
    member_services.adjust_points(shopper, 5000, "漫游测试积分", None)

    every = Permission.objects.filter(content_type__app_label__in=["stores", "orders", "members", "marketing",
                                                                   "catalog"])
    hq = _staff_with("walk-hq", list(every))
    store_perms = [Permission.objects.get(content_type__app_label=a, codename=c) for a, c in STAFF_PERMISSIONS]
    order_perms = list(Permission.objects.filter(content_type__app_label="orders", codename__in=MANAGER_PERMISSIONS))
    clerk = _staff_with("walk-clerk", store_perms + order_perms, store=store)
    superuser = get_user_model().objects.create_superuser("walk-admin", password="pw-walk-123456")

    pending = checkout(shopper, store, [(tea, 1)])
    pickup = checkout(shopper, store, [(tea, 2)])
    pay(pickup)
    express = checkout(shopper, store, [(nuts, 1)], fulfilment="express")
    pay(express)
    delivery = checkout(shopper, store, [(nuts, 2)], fulfilment="delivery")
    pay(delivery)
    asked = checkout(shopper, store, [(nuts, 2)])
    pay(asked)
    asked.refresh_from_db()
    after_sale = order_services.request_after_sale(
        asked, user=shopper, kind=AfterSale.Kind.REFUND_ONLY, reason=AfterSale.Reason.NOT_WANTED,
        quantities={asked.lines.get().pk: 1}, request_id=uuid.uuid4().hex,
    )
    attempt = PaymentAttempt.objects.filter(order=pickup).first()
    open_attempt = order_services_start(pending, shopper)

    transfer = stock_services.create_transfer(store, other, [(tea, 1)], by=hq, note="漫游")
    short_transfer = stock_services.create_transfer(store, other, [(tea, 2)], by=hq, note="少到")
    stock_services.dispatch_transfer(short_transfer, by=hq)
    stock_services.receive_transfer(short_transfer, {short_transfer.lines.get().pk: 1}, by=hq)
    stock = Stock.objects.get(store=store, sku=tea)
    stock_services.set_threshold(stock, 1000, by=hq)
    stock_services.sweep_low_stock()
    alert = LowStockAlert.objects.filter(stock=stock).first()
    StoreNotification.objects.get_or_create(user=clerk, store=store, defaults={"title": "库存不足", "body": "龙井茶"})

    coupon = make_coupon("满100减10", claimable=True, total=100)
    marketing_services.claim_coupon(shopper, coupon.pk)
    coupon_item = make_coupon_item(make_coupon("兑换券"), points=100)
    product_item = make_product_item(tea, points=200)
    exchange = marketing_services.exchange_points(shopper, product_item.pk, request_id=uuid.uuid4().hex,
                                                  store_id=store.pk)

    from catalog.models import FeaturedProduct, HotSearchWord
    from marketing import home
    from marketing.models import HomeNotice
    from stores import documents
    from stores.models import StockDocument

    receipt = documents.create_document(store, StockDocument.Kind.RECEIPT, by=hq, source="supplier")
    documents.set_line(receipt, nuts, 3, by=hq)
    doc_line = receipt.lines.first()
    notice, _created = home.save_content(HomeNotice(text="漫游公告", link_path="/stores/"), by=hq)
    featured, _created = home.save_content(FeaturedProduct(product=tea.product, sort_order=1), by=hq)
    hot_word, _created = home.save_content(HotSearchWord(word="龙井"), by=hq)

    now = timezone.now()
    run = ReconciliationRun.objects.create(day=timezone.localdate() - timedelta(days=1), status="matched",
                                           trigger="command", started_at=now, finished_at=now)
    legal = LegalDocument.objects.filter(kind="terms").first() or LegalDocument.objects.create(
        kind="terms", version=1, title="用户协议", body="条款")

    objects = {
        "category": tea.product.category, "product": tea.product, "sku": tea, "stock": stock, "transfer": transfer,
        "short_transfer": short_transfer,
        "alert": alert, "pending": pending, "pickup": pickup, "express": express, "delivery": delivery,
        "asked": asked, "after_sale": after_sale, "attempt": attempt, "open_attempt": open_attempt,
        "coupon": coupon, "member_coupon": MemberCoupon.objects.filter(user=shopper).first(),
        "coupon_item": coupon_item, "product_item": product_item, "exchange": exchange, "run": run,
        "legal": legal, "address": shopper.addresses.first(), "member": shopper.member,
        "document": receipt, "document_line": doc_line, "notice": notice, "featured": featured, "hot_word": hot_word,
    }
    return World(store=store, other_store=other, skus=[tea, nuts], shopper=shopper, hq=hq, clerk=clerk,
                 superuser=superuser, objects=objects)


def order_services_start(order, user):
    from orders.payments.services import start_payment

    return start_payment(order, user=user, channel="dev")


def real_kwargs(world):
    """URL name -> list of kwargs dicts with values that exist in the world."""
    from orders.payments import alipay

    o = world.objects
    day = o["run"].day.isoformat()
    pay_token = alipay.pay_token(o["open_attempt"])
    return {
        "catalog:category": [{"pk": o["category"].pk}],
        "catalog:product": [{"pk": o["product"].pk}],
        "catalog:product_stores": [{"pk": o["product"].pk}],
        "stores_bo:document_create": [{"kind": kind} for kind in ("receipt", "issue", "stocktake")],
        **{f"stores_bo:{name}": [{"pk": o["document"].pk}]
           for name in ("document", "document_line", "document_import", "document_post", "document_cancel",
                        "document_reverse")},
        "stores_bo:document_line_delete": [{"pk": o["document"].pk, "line_id": o["document_line"].pk}],
        **{f"marketing_bo:{name}": [{"slug": slug} for slug in ("banners", "notices", "featured", "categories",
                                                              "hot-words")]
           for name in ("home_list", "home_create")},
        **{f"marketing_bo:{name}": [{"slug": "notices", "pk": o["notice"].pk},
                                    {"slug": "featured", "pk": o["featured"].pk},
                                    {"slug": "hot-words", "pk": o["hot_word"].pk},
                                    {"slug": "categories", "pk": o["category"].pk}]
           for name in ("home_edit", "home_delete")},
        "account_legal": [{"kind": "terms"}, {"kind": "privacy"}],
        "account_confirm_email": [{"key": "abc-def:1"}],
        "account_reset_password_from_key": [{"uidb36": "1", "key": "abc-def"}],
        "members_bo:detail": [{"pk": o["member"].pk}],
        "members_bo:adjust_points": [{"pk": o["member"].pk}],
        "members_bo:change_level": [{"pk": o["member"].pk}],
        "stores_bo:stock_history": [{"pk": o["stock"].pk}],
        "stores_bo:stock_adjust": [{"pk": o["stock"].pk}],
        "stores_bo:stock_threshold": [{"pk": o["stock"].pk}],
        "stores_bo:transfer_detail": [{"pk": o["transfer"].pk}],
        "stores_bo:transfer_dispatch": [{"pk": o["transfer"].pk}],
        "stores_bo:transfer_receive": [{"pk": o["transfer"].pk}],
        "stores_bo:transfer_cancel": [{"pk": o["transfer"].pk}],
        "stores_bo:transfer_resolve": [{"pk": o["short_transfer"].pk}],
        "stores_bo:alert_detail": [{"pk": o["alert"].pk}],
        **{f"orders_bo:{name}": [{"pk": o[k].pk} for k in ("pickup", "express", "delivery")]
           for name in ("detail", "ticket", "ship", "add_parcel", "dispatch", "delivered", "ready", "cancel",
                        "cancel_refund", "change_price", "remark", "add_route")},
        **{f"orders_bo:after_sale{suffix}": [{"pk": o["after_sale"].pk}]
           for suffix in ("", "_approve", "_reject", "_receive", "_retry")},
        "orders_bo:reconciliation_day": [{"day": day}],
        "orders_bo:reconciliation_run": [{"day": day}],
        "members:address_edit": [{"pk": o["address"].pk}],
        "members:address_delete": [{"pk": o["address"].pk}],
        "members:address_default": [{"pk": o["address"].pk}],
        "stores:detail": [{"pk": world.store.pk}],
        "stores:choose": [{"pk": world.store.pk}],
        "marketing:mall_item": [{"pk": o["coupon_item"].pk}, {"pk": o["product_item"].pk}],
        "marketing:mall_exchange": [{"pk": o["coupon_item"].pk}, {"pk": o["product_item"].pk}],
        "marketing:exchange_detail": [{"pk": o["exchange"].pk}],
        "marketing:exchange_cancel": [{"pk": o["exchange"].pk}],
        "marketing:coupon_claim": [{"pk": o["coupon"].pk}],
        **{f"orders:{name}": [{"public_id": o[k].public_id} for k in ("pending", "pickup", "asked")]
           for name in ("detail", "pay", "pay_result", "cancel", "confirm", "reorder", "after_sale_request")},
        **{f"orders:after_sale{suffix}": [{"number": o["after_sale"].number}]
           for suffix in ("", "_withdraw", "_return")},
        "payments:dev_pay": [{"out_trade_no": o["open_attempt"].out_trade_no}],
        "payments:alipay_pay_link": [{"token": pay_token}],
        "payments:alipay_return": [{"token": pay_token}],
        **{f"payments:wechat_{name}": [{"out_trade_no": o["attempt"].out_trade_no}]
           for name in ("jsapi", "status", "query")},
        # the admin's own pages with an id (change, delete, history are filled from the model)
        "admin:auth_user_password_change": [{"id": str(world.shopper.pk)}],
        "admin:members_member_adjust_points": [{"pk": o["member"].pk}],
        "admin:members_member_change_level": [{"pk": o["member"].pk}],
        "admin:marketing_coupon_grant": [{"pk": o["coupon"].pk}],
        "admin:app_list": [{"app_label": label} for label in ("members", "stores", "orders")],
        "admin/<regex:url>": [{"url": "no-such-page/"}],  # the admin's catch-all
        "admin:view_on_site": [{"content_type_id": ContentType.objects.get_for_model(world.store).pk,
                                "object_id": world.store.pk}],
    }
