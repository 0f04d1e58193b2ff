"""The back-office shell: who may enter (/backoffice/ is staff only) and its dashboard.

Store-level scoping (a clerk sees only their stores) is the stores app's mechanism; this module
only decides "staff or not".
"""

from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.shortcuts import render
from django.utils import timezone
from django.utils.module_loading import import_string


def staff_required(view=None, *, perm=None):
    """Anonymous visitors go to the login page; logged-in non-staff get 403, not a login loop.

    `perm` (a Django permission such as "members.view_member", or a tuple of them, all needed)
    narrows a page to the staff who hold it: HQ pages that store staff must not open.
    Use as `@staff_required` or `@staff_required(perm="app.codename")`.
    """
    perms = (perm,) if isinstance(perm, str) else tuple(perm or ())

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path(), login_url=settings.STAFF_LOGIN_URL)
            if not (user.is_active and user.is_staff):
                raise PermissionDenied
            if perms and not user.has_perms(perms):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate


class StaffRequiredMixin:
    @classmethod
    def as_view(cls, **initkwargs):
        return staff_required(super().as_view(**initkwargs))


def signups_by_day(days=14):
    """New shopper accounts (staff are not members) per local day for the last `days` days,
    zero-filled, oldest first."""
    today = timezone.localdate()
    start = today - timedelta(days=days - 1)
    rows = (
        get_user_model()
        .objects.filter(date_joined__date__gte=start, is_staff=False, is_superuser=False)
        .annotate(day=TruncDate("date_joined"))
        .values("day")
        .annotate(n=Count("id"))
    )
    counts = {row["day"]: row["n"] for row in rows}
    return [
        {"day": (start + timedelta(days=i)).isoformat(), "n": counts.get(start + timedelta(days=i), 0)}
        for i in range(days)
    ]


@staff_required
def dashboard(request):
    """Member figures are HQ data: shown only to staff who may view user accounts (not a clerk)."""
    User = get_user_model()
    context = {"show_members": request.user.has_perm(f"{User._meta.app_label}.view_{User._meta.model_name}")}
    if context["show_members"]:
        series = signups_by_day()
        context.update(
            signups=series,
            signup_total=sum(point["n"] for point in series),
            member_count=User.objects.filter(is_staff=False, is_superuser=False).count(),
        )
    context["extra_cards"] = dashboard_extras(request)
    return render(request, "backoffice/dashboard.html", context)


def dashboard_extras(request):
    """Cards other apps put on the home page: settings.BACKOFFICE_DASHBOARD_EXTRAS lists callables
    f(request) -> {"template": ..., **context} or None (core imports no app: they are dotted paths)."""
    cards = []
    for path in getattr(settings, "BACKOFFICE_DASHBOARD_EXTRAS", []):
        card = import_string(path)(request)
        if card:
            cards.append(card)
    return cards
