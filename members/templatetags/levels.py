"""{% load levels %}: a level's benefits as shoppers read them.

    {{ level.discount_percent|zhe }}    98 -> 9.8折, 90 -> 9折, 85.5 -> 8.55折, 100 -> ""
    {{ level.points_multiplier|plain }} 1.20 -> 1.2, 2.00 -> 2
"""

from decimal import Decimal, InvalidOperation

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def zhe(percent):
    """The discount as 折 (a tenth of the price paid): "" when there is none (100% or unreadable)."""
    try:
        value = Decimal(str(percent))
    except (InvalidOperation, ValueError, TypeError):
        return ""
    if not value.is_finite() or value <= 0 or value >= 100:
        return ""
    tenths = (value / 10).normalize()
    return _("%(zhe)s折") % {"zhe": format(tenths, "f")}


@register.filter
def plain(number):
    """A Decimal without its trailing zeros: 1.20 -> 1.2, 2.00 -> 2 (a multiplier, as people say it)."""
    try:
        value = Decimal(str(number))
    except (InvalidOperation, ValueError, TypeError):
        return number
    if not value.is_finite():
        return number
    return format(value.normalize(), "f")
