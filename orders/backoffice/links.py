"""Order references ("order:<no>…") in other apps' pages (stores' stock history) as links to the
back-office order page: one query for every order number on the page."""

from django.urls import reverse
from django.utils.translation import gettext as _

from ..models import Order


def order_links(numbers):
    rows = Order.objects.filter(number__in=[n for n in numbers if len(n) <= 24 and n.isascii() and n.isalnum()]).values_list("number", "pk")
    return {number: (_("订单 %(id)s") % {"id": number}, reverse("orders_bo:detail", args=[pk])) for number, pk in rows}
