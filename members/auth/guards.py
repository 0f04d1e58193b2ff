"""Before the first order a shopper must have a verified phone (WeChat users sign up without one)."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode


def has_bound_phone(user) -> bool:
    return bool(user.is_authenticated and user.phone and user.phone_verified)


def bind_phone_redirect(request):
    """None when the user may go on; otherwise the redirect (login, or bind phone) to return.

    For views that cannot use the decorator: `if (resp := bind_phone_redirect(request)): return resp`.
    """
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if has_bound_phone(request.user):
        return None
    return HttpResponseRedirect(f"{reverse('account_bind_phone')}?{urlencode({'next': request.get_full_path()})}")


def require_bound_phone(view):
    """View decorator: anonymous -> login; logged in without a verified phone -> bind phone, then back."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        response = bind_phone_redirect(request)
        if response is not None:
            return response
        return view(request, *args, **kwargs)

    return wrapper
