"""`{% request_id %}`: a fresh id for a form that must take effect once.

The form posts it back as `request_id`; the service stores it as the change's reference, and a
unique key turns a double click or a re-sent POST into a no-op.
"""

import uuid

from django import template

register = template.Library()


@register.simple_tag
def request_id():
    return str(uuid.uuid4())
