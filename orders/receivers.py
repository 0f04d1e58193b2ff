"""What orders listens to from below: a login (the session's cart joins the member's)."""

import logging

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

logger = logging.getLogger("orders")


@receiver(user_logged_in, dispatch_uid="orders.merge_cart_on_login")
def merge_cart_on_login(sender, request, user, **kwargs):
    if request is None or not hasattr(request, "session"):
        return
    from .models import Cart
    from .services.cart import SESSION_KEY, merge_carts, session_cart_token

    token = session_cart_token(request)
    if token is None:
        return
    try:
        merge_carts(Cart.objects.filter(token=token, user__isnull=True).first(), user)
    except Exception:  # a cart is never worth a failed login
        logger.exception("could not merge the session cart into user %s's cart", user.pk)
    request.session.pop(SESSION_KEY, None)
