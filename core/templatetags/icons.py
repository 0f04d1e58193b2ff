"""`{% icon "name" "extra-class" %}`: one icon of the app's set (core.icons), as an inline <svg>
that uses the sprite's symbol, so it takes the text colour and size of its place."""

from django import template
from django.templatetags.static import static
from django.utils.html import format_html

from core.icons import SPRITE

register = template.Library()


@register.simple_tag
def icon(name, css_class="", label=""):
    """A decorative icon (aria-hidden) unless `label` names it for screen readers."""
    classes = f"icon {css_class}".strip()
    if label:
        return format_html(
            '<svg class="{}" role="img" aria-label="{}"><use href="{}#{}"></use></svg>',
            classes, label, static(SPRITE), name,
        )
    return format_html(
        '<svg class="{}" aria-hidden="true" focusable="false"><use href="{}#{}"></use></svg>',
        classes, static(SPRITE), name,
    )
