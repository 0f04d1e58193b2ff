"""{% load phones %}: mainland mobile numbers as people read them.

    {{ user.phone|phone }}          +8613800138000 -> 138 0013 8000
    {{ user.phone|masked_phone }}   +8613800138000 -> 138****8000 (for viewers who may not see it)
"""

from django import template

from members.auth.phones import format_phone, mask_phone

register = template.Library()


@register.filter(name="phone")
def phone_filter(value):
    return format_phone(str(value)) if value else ""


@register.filter(name="masked_phone")
def masked_phone_filter(value):
    return mask_phone(str(value)) if value else ""
