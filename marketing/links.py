"""Points-mall references ("mall:<id>") in other apps' pages (stores' stock history) as links to
the exchange in the admin. No query: the id is the exchange's."""

from django.urls import reverse
from django.utils.translation import gettext as _


def mall_links(ids):
    return {i: (_("积分兑换 #%(id)s") % {"id": i}, reverse("admin:marketing_pointsexchange_change", args=[int(i)]))
            for i in ids if i.isascii() and i.isdigit()}
