"""The checkout form's HTML, built here instead of by a template: the page is re-rendered by htmx on
every change and the Django template engine cost more than the quote it shows (some 150 nodes,
thirty {% translate %} tags and five loops: about 1 ms of the request, 0.1 ms this way).
orders/partials/_checkout_form.html puts the result in; the form's markup lives here only.

Every value is escaped on the way in (`_e`); what is marked safe is our own markup, the icon and
image tags and the slot options (escaped where they are built). The texts are the template's
msgids, translated through gettext as before; the fixed ones once per process and language."""

import functools
import html

from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from catalog.templatetags.catalog_tags import yuan
from core.templatetags.icons import icon


def _e(value):
    """conditional_escape without its lazy-string wrapper (called some fifty times a page)."""
    if value is None:
        return ""
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))  # what django.utils.html.escape does: & < > " '


@functools.lru_cache(maxsize=8)
def _labels(language):
    """The form's fixed texts in `language` (the active one when called: see labels()), escaped."""
    texts = {
        "store": _("下单门店"), "choose_store_first": _("请先选择门店"), "switch": _("切换"), "choose_store": _("选择门店"),
        "fulfilment": _("配送方式"), "slot": _("自提时间"), "default": _("默认"), "pick_address": _("请选择收货地址"),
        "change": _("更换"), "address": _("收货地址"), "new_address": _("新增收货地址"), "add_address": _("添加收货地址"),
        "goods": _("商品"), "gone": _("商品已下架"), "coupon": _("优惠券"), "none_usable": _("暂无可用"), "none": _("无"),
        "no_coupon": _("不使用优惠券"), "points": _("积分抵扣"), "no_points": _("暂无可用积分"),
        "use_points": _("使用积分抵扣"), "remark": _("订单备注"), "remark_hint": _("选填，给门店留言"),
        "amounts": _("金额明细"), "goods_amount": _("商品金额"), "member_discount": _("会员折扣"), "delivery_fee": _("运费"),
        "pay": _("应付"), "submit": _("提交订单"),
    }
    return {key: conditional_escape(text) for key, text in texts.items()}


def labels():
    return _labels(get_language())


def render(context):
    """The <form id="checkout"> for the view's context (orders.views.checkout._page)."""
    t = labels()
    quote, store = context["quote"], context["store"]
    chevron = icon("chevron-right")
    url = _e(context["checkout_url"])
    out = [
        f'<form id="checkout" class="od-checkout" method="post" action="{url}"\n'
        f'      hx-get="{url}" hx-trigger="change" hx-target="this" hx-swap="outerHTML" hx-sync="this:replace"\n'
        '      hx-params="not csrfmiddlewaretoken"\n'
        '      data-submit-once>\n'
        f'  <input type="hidden" name="csrfmiddlewaretoken" value="{_e(context["csrf_token"])}">\n'
        f'  <input type="hidden" name="source" value="{_e(context["source"])}">\n'
        f'  <input type="hidden" name="token" value="{_e(context["token"])}">\n'
        f'  <input type="hidden" name="store" value="{_e(store.pk if store else "")}">\n'
        f'  <input type="hidden" name="expected" value="{_e(context["pay_amount"])}">\n\n'
    ]
    if context["error"]:
        out.append(f'  <p class="od-error" role="alert">{_e(context["error"])}</p>\n')
    elif context["form_errors"]:
        out.append(f'  <p class="od-error" role="alert">{_e(context["form_errors"][0])}</p>\n')
    if quote.errors:
        problems = "".join(f'<li data-code="{_e(code)}">{_e(message)}</li>' for code, message in quote.errors)
        out.append(f'  <ul class="od-problems" role="status">{problems}</ul>\n')
    if context["note"]:
        out.append(f'  <p class="od-note">{_e(context["note"])}</p>\n')

    if store:
        where = f'<p class="od-storecard__name">{_e(store.name)}</p><p class="od-meta">{_e(store.address)}</p>'
    else:
        where = f'<p class="od-storecard__name">{t["choose_store_first"]}</p>'
    out.append(
        '\n  <section class="od-card od-storecard">\n    <div class="od-storecard__main">\n'
        f'      <p class="od-storecard__label">{t["store"]}</p>\n      {where}\n    </div>\n'
        f'    <a class="od-link" href="{_e(context["switch_store_url"])}">'
        f'{t["switch"] if store else t["choose_store"]}{chevron}</a>\n  </section>\n'
    )
    if context["fulfilments"]:
        out.append(_fulfilment(context, quote, store, t, chevron))
    out.append(_lines(context["lines"], t))
    out.append(_coupons_and_points(context, quote, t, chevron))
    out.append(_amounts(context, quote, t))
    out.append(
        f'\n  <div class="od-submitbar">\n    <p class="od-submitbar__sum">{t["pay"]} <strong class="shop-price" '
        f'id="checkout-pay"><small>¥</small>{_e(context["pay_amount"])}</strong></p>\n'
        f'    <button type="submit" class="od-submitbar__btn"{"" if quote.ok else " disabled"}>{t["submit"]}</button>\n'
        '  </div>\n</form>\n'
    )
    return mark_safe("".join(out))  # noqa: S308 - every value escaped above


def _fulfilment(context, quote, store, t, chevron):
    out = [f'\n  <section class="od-card">\n    <h2 class="od-card__title">{t["fulfilment"]}</h2>\n'
           f'    <div class="od-segments" role="radiogroup" aria-label="{t["fulfilment"]}">\n']
    for option in context["fulfilments"]:
        on, off = option["on"], not option["available"]
        out.append(
            f'      <label class="od-segment{" is-on" if on else ""}{" is-disabled" if off else ""}">\n'
            f'        <input type="radio" name="fulfilment" value="{_e(option["code"])}"'
            f'{" checked" if on else ""}{" disabled" if off else ""}>\n'
            f'        <span class="od-segment__label">{_e(option["label"])}</span>\n'
            f'        <span class="od-segment__fee">{_e(option["fee"])}</span>\n      </label>\n'
        )
    out.append("    </div>\n    ")
    out.extend(f'<p class="od-reason">{_e(option["label"])}：{_e(option["reason"])}</p>'
               for option in context["fulfilments"] if not option["available"])
    out.append("\n\n")
    if quote.fulfilment == "pickup":
        if quote.address:
            out.append(f'    <input type="hidden" name="address" value="{_e(quote.address.pk)}">\n')
        if context["slot_options"]:
            out.append(
                '    <label class="od-cell od-cell--select od-cell--slot" for="checkout-slot">\n'
                f'      <span class="od-cell__label">{t["slot"]}</span>\n'
                f'      <select id="checkout-slot" name="slot">{context["slot_options"]}</select>\n    </label>\n'
            )
        if store:
            note = _e(_("付款后凭自提码到 %(name)s 提货") % {"name": store.name})
            out.append(f'    <p class="od-meta od-pickup-note">{note}</p>\n')
    else:
        if quote.request.slot:
            out.append(f'    <input type="hidden" name="slot" value="{_e(quote.request.slot)}">\n')
        add_url = _e(context["add_address_url"])
        if quote.addresses:
            out.append(_addresses(quote, add_url, t, chevron))
        else:
            out.append(
                f'    <a class="od-address od-address--empty" href="{add_url}">\n'
                f'      <span class="od-address__who">{t["add_address"]}</span>'
                f'<span class="od-address__change">{chevron}</span>\n    </a>\n'
            )
    out.append("  </section>\n")
    return "".join(out)


def _addresses(quote, add_url, t, chevron):
    chosen = quote.address
    if chosen:
        tag = f' <span class="od-tag">{t["default"]}</span>' if chosen.is_default else ""
        summary = (f'<span class="od-address__who"><strong>{_e(chosen.receiver)}</strong> {_e(chosen.masked_phone)}'
                   f'{tag}</span>\n            <span class="od-address__where">{_e(chosen.full_address)}</span>')
    else:
        summary = f'<span class="od-address__who">{t["pick_address"]}</span>'
    out = ['    <details class="od-addresses">\n      <summary class="od-address">\n'
           f'            {summary}\n'
           f'        <span class="od-address__change">{t["change"]}{chevron}</span>\n      </summary>\n'
           f'      <div class="od-options" role="radiogroup" aria-label="{t["address"]}">\n']
    chosen_pk = chosen.pk if chosen else None
    for address in quote.addresses:
        out.append(
            '        <label class="od-option">\n'
            f'          <input type="radio" name="address" value="{_e(address.pk)}"'
            f'{" checked" if address.pk == chosen_pk else ""}>\n'
            f'          <span class="od-option__text"><strong>{_e(address.receiver)}</strong> '
            f'{_e(address.masked_phone)}<br><small>{_e(address.full_address)}</small></span>\n        </label>\n'
        )
    out.append(f'        <a class="od-link od-options__add" href="{add_url}">+ {t["new_address"]}</a>\n'
               '      </div>\n    </details>\n')
    return "".join(out)


def _lines(lines, t):
    out = [f'\n  <section class="od-card">\n    <h2 class="od-card__title">{t["goods"]}</h2>\n    <ul class="od-items">\n']
    for line in lines:
        if line["gone"]:
            out.append(
                '      <li class="od-item is-off">\n        <span class="od-item__img catalog-noimg"></span>\n'
                f'        <div class="od-item__body"><p class="od-item__name">{t["gone"]}</p>'
                f'<p class="od-item__problem">{_e(line["problem"])}</p></div>\n      </li>\n'
            )
            continue
        spec = f'<p class="od-item__spec">{_e(line["spec"])}</p>' if line["spec"] else ""
        problem = f'<p class="od-item__problem">{_e(line["problem"])}</p>' if line["problem"] else ""
        out.append(
            f'      <li class="od-item{" is-off" if line["off"] else ""}">\n        {line["img"]}\n'
            f'        <div class="od-item__body">\n          <p class="od-item__name">{_e(line["name"])}</p>\n'
            f'          {spec}\n          {problem}\n        </div>\n'
            f'        <div class="od-item__price"><span>¥{_e(line["price"])}</span>'
            f'<span class="od-meta">×{_e(line["quantity"])}</span></div>\n      </li>\n'
        )
    out.append("    </ul>\n  </section>\n")
    return "".join(out)


def _coupons_and_points(context, quote, t, chevron):
    usable = context["usable_coupons"]
    if quote.coupon:
        value = f"-¥{_e(yuan(quote.coupon.discount))}"
    elif usable:
        value = _e(ngettext("%(n)s 张可用", "%(n)s 张可用", len(usable)) % {"n": len(usable)})
    elif quote.coupons:
        value = t["none_usable"]
    else:
        value = t["none"]
    choice = context["coupon_choice"]
    out = [
        '\n  <section class="od-card od-cells">\n    <details class="od-coupons">\n      <summary class="od-cell">\n'
        f'        <span class="od-cell__label">{t["coupon"]}</span>\n'
        f'        <span class="od-cell__value{" is-red" if quote.coupon else ""}">{value}{chevron}</span>\n'
        '      </summary>\n'
        f'      <div class="od-options" role="radiogroup" aria-label="{t["coupon"]}">\n'
        '        <label class="od-option"><input type="radio" name="coupon" value="none"'
        f'{" checked" if choice == "none" else ""}><span class="od-option__text">{t["no_coupon"]}</span></label>\n'
    ]
    for option in context["coupons"]:
        usable_one = option["usable"]
        why = _("可减 ¥%(d)s") % {"d": option["discount"]} if usable_one else option["reason"]
        until = _("%(t)s 到期") % {"t": option["until"]}
        out.append(
            f'        <label class="od-option od-coupon{"" if usable_one else " is-disabled"}">\n'
            f'          <input type="radio" name="coupon" value="{_e(option["pk"])}"'
            f'{" checked" if choice == option["pk"] else ""}{"" if usable_one else " disabled"}>\n'
            f'          <span class="od-option__text"><strong>{_e(option["name"])}</strong>\n'
            f'            <small>{_e(why)} · {_e(until)}</small></span>\n        </label>\n'
        )
    offer = context["points_offer"]
    if quote.points_used:
        points = _("使用 %(n)s 积分，抵扣 ¥%(d)s") % {"n": quote.points_used, "d": context["amounts"]["points_discount"]}
    elif offer:
        points = _("可用 %(n)s 积分，抵 ¥%(d)s") % {"n": offer, "d": context["points_offer_value"]}
    else:
        points = _("暂无可用积分")
    switch = (f'{" checked" if quote.request.use_points else ""}'
              f'{" disabled" if not offer and not quote.points_used else ""}')
    out.append(
        '      </div>\n    </details>\n    <label class="od-cell">\n'
        f'      <span class="od-cell__label">{t["points"]}\n        <small class="od-meta">{_e(points)}</small>\n'
        '      </span>\n'
        f'      <input class="weui-switch" type="checkbox" name="use_points" value="1"{switch}'
        f' aria-label="{t["use_points"]}">\n    </label>\n    <label class="od-cell">\n'
        f'      <span class="od-cell__label">{t["remark"]}</span>\n'
        '      <input class="od-cell__input" type="text" name="remark" maxlength="200" '
        f'value="{_e(quote.request.remark)}" placeholder="{t["remark_hint"]}">\n    </label>\n  </section>\n'
    )
    return "".join(out)


def _amounts(context, quote, t):
    figures = context["amounts"]
    level = quote.member.level if quote.member is not None and quote.member.level_id else None
    level_name = (f' <small class="od-meta">{_e(level.name)}</small>'
                  if level and quote.totals and quote.totals.member_discount else "")
    return (
        f'\n  <section class="od-card od-amounts" aria-label="{t["amounts"]}">\n'
        f'    <p><span>{t["goods_amount"]}</span><span>¥{_e(figures["goods_amount"])}</span></p>\n'
        f'    <p><span>{t["member_discount"]}{level_name}</span>'
        f'<span class="od-minus">-¥{_e(figures["member_discount"])}</span></p>\n'
        f'    <p><span>{t["coupon"]}</span><span class="od-minus">-¥{_e(figures["coupon_discount"])}</span></p>\n'
        f'    <p><span>{t["points"]}</span><span class="od-minus">-¥{_e(figures["points_discount"])}</span></p>\n'
        f'    <p><span>{t["delivery_fee"]}</span><span>+¥{_e(figures["delivery_fee"])}</span></p>\n'
        f'    <p class="od-amounts__pay"><span>{t["pay"]}</span><strong class="shop-price"><small>¥</small>'
        f'{_e(context["pay_amount"])}</strong></p>\n  </section>\n'
    )
