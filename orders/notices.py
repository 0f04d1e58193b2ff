"""What the buyer is told, and when: paid, shipped, out for delivery, ready for pickup (with the
code), after-sale decisions and refund results. Sent by the worker through core.notify (WeChat
template message, SMS, log), after the change committed."""

from django.utils.translation import gettext as _

from core.notify import notify

from .models import AfterSale, Order, Refund


def _message(order, kind):
    number = order.number
    if kind == "paid":
        if order.is_pickup:
            return _("支付成功"), _("订单 %(no)s 已支付 ¥%(amount)s，自提码 %(code)s，请在 %(store)s 提货。") % {
                "no": number, "amount": order.paid_amount, "code": order.pickup_code, "store": order.store.name}
        return _("支付成功"), _("订单 %(no)s 已支付 ¥%(amount)s，门店将尽快为您发货。") % {
            "no": number, "amount": order.paid_amount}
    if kind == "shipped":
        parcels = "、".join(f"{s.carrier_name} {s.tracking_no}" for s in order.shipments.all())
        return _("订单已发货"), _("订单 %(no)s 已发货：%(parcels)s。") % {"no": number, "parcels": parcels}
    if kind == "dispatched":
        return _("订单配送中"), _("订单 %(no)s 已由配送员 %(name)s（%(phone)s）送出。") % {
            "no": number, "name": order.courier_name, "phone": order.courier_phone}
    if kind == "ready_for_pickup":
        return _("商品已备好，请到店自提"), _("订单 %(no)s 已备货，请凭自提码 %(code)s 到 %(store)s 提货。") % {
            "no": number, "code": order.pickup_code, "store": order.store.name}
    if kind.startswith("refunded:"):
        refund = Refund.objects.filter(pk=kind.split(":", 1)[1], order=order).first()
        if refund is None:
            return None
        return _("退款成功"), _("订单 %(no)s 的退款 ¥%(amount)s 已原路退回，请注意查收。") % {
            "no": number, "amount": refund.amount}
    if kind.startswith("after_sale:"):
        after_sale = AfterSale.objects.filter(pk=kind.split(":", 1)[1], order=order).first()
        if after_sale is None:
            return None
        if after_sale.status == AfterSale.Status.REJECTED:
            return _("售后申请未通过"), _("订单 %(no)s 的售后申请未通过：%(reason)s") % {
                "no": number, "reason": after_sale.reject_reason}
        if after_sale.status == AfterSale.Status.AWAITING_RETURN:
            return _("售后申请已同意"), _("订单 %(no)s 的退货申请已同意，请寄回商品并填写退货单号。") % {"no": number}
        return _("售后申请已同意"), _("订单 %(no)s 的退款申请已同意，款项将原路退回。") % {"no": number}
    return None


def notify_shopper(order_id, kind):
    order = Order.objects.select_related("user", "store").filter(pk=order_id).first()
    if order is None:
        return 0
    message = _message(order, kind)
    if message is None:
        return 0
    subject, body = message
    notify(order.user, subject, body, kind=f"order_{kind.split(':')[0]}")
    return 1
