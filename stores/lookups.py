"""Short codes typed at a store's counter (pickup codes of orders and of the points mall): every
lookup is logged (stores.CodeLookup: who, when, which store, which code, found or not), and
lookups that find nothing are limited per staff member and per store, so nobody can walk a
store's million 6-digit codes until one answers.

    attempt = start_lookup(user=..., store=..., code=..., purpose="pickup")   # may raise TooManyLookups
    ... look the code up ...
    finish_lookup(attempt, found=...)

The limit is counted from the log itself, in the database (no cache to fail open or to lose):
lookups that found nothing, or have not said yet, within the last CODE_LOOKUP_WINDOW_MINUTES,
at most CODE_LOOKUP_MISSES_PER_USER for one staff member and CODE_LOOKUP_MISSES_PER_STORE for one
store. The attempt is written (and committed, outside a caller's transaction) before it is counted,
so requests racing each other each see the others and cannot slip past the limit together.
A refused attempt is logged as refused and does not count, so waiting always ends.
"""

import math
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import DomainError

from .models import CodeLookup

Outcome = CodeLookup.Outcome
COUNTED = (Outcome.MISSED, Outcome.PENDING)


class TooManyLookups(DomainError):
    code = "too_many_lookups"

    def __init__(self, message, *, wait_minutes, **kwargs):
        super().__init__(message, **kwargs)
        self.wait_minutes = wait_minutes


def _limits():
    return (
        timedelta(minutes=int(getattr(settings, "CODE_LOOKUP_WINDOW_MINUTES", 10))),
        int(getattr(settings, "CODE_LOOKUP_MISSES_PER_USER", 10)),
        int(getattr(settings, "CODE_LOOKUP_MISSES_PER_STORE", 30)),
    )


def start_lookup(*, user, store, code, purpose, now=None):
    """Log a lookup about to be made and return it; TooManyLookups (the attempt logged as refused)
    when this staff member or this store has had too many lookups that found nothing lately."""
    now = now or timezone.now()
    window, per_user, per_store = _limits()
    typed = "".join(ch for ch in str(code or "")[:64] if ch.isprintable())[:32]  # a NUL cannot be stored
    attempt = CodeLookup.objects.create(user=user, store=store, code=typed, purpose=purpose[:32])
    since = now - window
    recent = CodeLookup.objects.filter(Q(user=user) | Q(store=store), created_at__gte=since, outcome__in=COUNTED)
    counts = recent.aggregate(
        by_user=Count("pk", filter=Q(user=user)), by_store=Count("pk", filter=Q(store=store)),
        user_oldest=Min("created_at", filter=Q(user=user)), store_oldest=Min("created_at", filter=Q(store=store)),
    )
    over_user, over_store = counts["by_user"] > per_user, counts["by_store"] > per_store
    if not (over_user or over_store):
        return attempt
    CodeLookup.objects.filter(pk=attempt.pk).update(outcome=Outcome.REFUSED)
    oldest = min(t for t, over in ((counts["user_oldest"], over_user), (counts["store_oldest"], over_store)) if over)
    wait = max(1, math.ceil((oldest + window - now).total_seconds() / 60))
    if over_user:
        message = _("输错次数过多，请 %(n)s 分钟后再试；如有疑问请联系店长") % {"n": wait}
    else:
        message = _("本门店近期输错次数过多，请 %(n)s 分钟后再试") % {"n": wait}
    raise TooManyLookups(message, wait_minutes=wait)


def finish_lookup(attempt, *, found):
    """What the lookup found: only lookups that found nothing count toward the limit."""
    outcome = Outcome.FOUND if found else Outcome.MISSED
    CodeLookup.objects.filter(pk=attempt.pk).update(outcome=outcome)
    attempt.outcome = outcome
    return attempt
