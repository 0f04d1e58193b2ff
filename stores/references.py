"""References in stock history as words and links: "订单 2026…", "调拨单 #12", "积分兑换 #12",
"手工调整" instead of the raw ledger keys (core.references).

Each app that owns a kind of reference names a function in settings.STOCK_REFERENCE_LINKS
({kind: dotted path}); it takes the set of ids of that kind on the page and returns
{id: (label, url or None)} in at most one query, so a page of 200 movements costs one query per
kind, not one per row. stores knows no other app: a kind with no function (or an id it does not
know) still reads as words, without a link.
"""

from django.conf import settings
from django.urls import reverse
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from core.references import parse_reference


def _words(kind, ident):
    return {
        "order": _("订单 %(id)s"),
        "mall": _("积分兑换 #%(id)s"),
        "transfer": _("调拨单 #%(id)s"),
        "doc": _("库存单据 %(id)s"),
        "staff": _("手工调整"),
        "merge": _("账户合并"),
        "import": _("期初导入"),
    }[kind] % {"id": ident}


def _step_words(step):
    action, _sep, ident = step.partition(":")
    words = {"refund": _("退款"), "pickup": _("提货"), "ship": _("发货"), "difference": _("收货差异")}.get(action)
    if words is None:
        return ""
    return f"{words} #{ident}" if ident and ident.isdigit() else words


def transfer_links(ids):
    return {i: (_words("transfer", i), reverse("stores_bo:transfer_detail", args=[int(i)]))
            for i in ids if i.isascii() and i.isdigit()}


def document_links(numbers):
    from .models import StockDocument

    rows = StockDocument.objects.filter(number__in=[n for n in numbers if len(n) <= 32 and n.isprintable()])
    return {number: (_("%(kind)s %(no)s") % {"kind": kind_label, "no": number},
                     reverse("stores_bo:document", args=[pk]))
            for number, pk, kind_label in ((d.number, d.pk, d.get_kind_display()) for d in rows)}


def describe(references):
    """{reference: (label, url or None)} for the given references (duplicates and blanks allowed)."""
    parsed = {ref: parse_reference(ref) for ref in set(references) if ref}
    by_kind = {}
    for value in parsed.values():
        if value is not None:
            by_kind.setdefault(value[0], set()).add(value[1])
    links = {}
    for kind, ids in by_kind.items():
        dotted = getattr(settings, "STOCK_REFERENCE_LINKS", {}).get(kind)
        links[kind] = import_string(dotted)(ids) if dotted else {}
    described = {}
    for ref, value in parsed.items():
        if value is None:
            described[ref] = (ref, None)
            continue
        kind, ident, step = value
        label, url = links.get(kind, {}).get(ident, (_words(kind, ident), None))
        extra = _step_words(step)
        described[ref] = (f"{label} · {extra}" if extra else label, url)
    return described
