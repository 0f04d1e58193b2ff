"""The member centre (我的): its figures in one statement, and its body cached under those figures.

`summary(user)` reads, in one SQL statement, the member with its level and the next level, the
address summary, the newest points entry's id, and the counts the apps above members add through
settings.MEMBER_CENTRE_COUNTS (usable coupons, orders per tab, pieces in the cart): each names a
callable returning {column: expression on the member row} (`OuterRef("user_id")`). The statement is
compiled by the ORM once per process and vendor (compiling it cost more than running it); only the
member's user id changes between requests.

`cached_body(...)` keeps the rendered body of the page in the shared cache under a key made of
everything the body shows: the user, the language, today's date, every figure of the summary, the
user's name, phone and avatar, and the template's source. The key *is* the data, so there is no
version to bump and nothing to invalidate: a new points entry, a level change, a coupon claimed or
expired, an order paid or a piece added to the cart changes a figure, hence the key, and the next
request renders afresh (the points ledger is append-only, so its newest id stands for the rows
shown). One member's key can never be another's (the user id is in it). A body is also kept in the
process's memory (at most LOCAL_MAX_ENTRIES, least recently served out first), which saves the
Redis round trip of a member who comes back to the page. Redis down reads as a miss: the body is
rendered from the database, as on a cold cache.

The CSRF token differs per visitor and request: the cached body carries a marker where a token goes,
replaced by this request's token when served.
"""

import functools
import hashlib
import threading
from collections import OrderedDict
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.template import loader
from django.utils.module_loading import import_string
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

from core.shell import CSRF_MARKER, csrf_token

from .models import Address, Member, MemberLevel, PointsEntry

BODY_TEMPLATE = "members/partials/_member_centre_body.html"
BODY_TIMEOUT = 300
# rendered bodies also kept in each process's memory (a key names its content: never stale), the
# most recently served first out of LOCAL_MAX_ENTRIES
LOCAL_MAX_ENTRIES = 500
_local = OrderedDict()
_local_lock = threading.Lock()
_NOBODY = -918273645  # the user id the statement is compiled with, replaced by the member's

MEMBER_FIELDS = ("id", "user_id", "level_id", "growth", "points_balance", "sign_in_streak", "last_sign_in_on")
LEVEL_FIELDS = ("name", "rank", "growth_threshold", "discount_percent", "points_multiplier",
                "flash_sale_early_minutes", "free_delivery", "birthday_points", "description")
SUMMARY_FIELDS = ("next_level_id", "next_level_name", "next_level_threshold", "address_count", "address_city",
                  "address_district", "last_points_id")


def _annotations():
    above = MemberLevel.objects.filter(rank__gt=Coalesce(OuterRef("level__rank"), Value(-1))).order_by("rank")
    mine = Address.objects.filter(user_id=OuterRef("user_id"))
    first = mine.order_by("-is_default", "-updated_at", "-id")
    return {
        "next_level_id": Subquery(above.values("id")[:1]),
        "next_level_name": Subquery(above.values("name")[:1]),
        "next_level_threshold": Subquery(above.values("growth_threshold")[:1]),
        "address_count": Coalesce(
            Subquery(mine.order_by().values("user_id").annotate(n=Count("id")).values("n")[:1]), Value(0)
        ),
        "address_city": Subquery(first.values("city")[:1]),
        "address_district": Subquery(first.values("district")[:1]),
        "last_points_id": Subquery(
            PointsEntry.objects.filter(member_id=OuterRef("pk")).order_by("-id").values("id")[:1]
        ),
    }


def _extra_columns(dotted_names):
    columns = {}
    for dotted in dotted_names:
        columns.update(import_string(dotted)())
    return columns


@functools.lru_cache(maxsize=8)
def _statement(vendor, counts):
    """(sql, params, index of the user id in params, [(column name, field or None)]) for `counts`
    (settings.MEMBER_CENTRE_COUNTS as a tuple), compiled by the ORM once."""
    extra = _extra_columns(counts)
    names = [*MEMBER_FIELDS, *(f"level__{name}" for name in LEVEL_FIELDS), *SUMMARY_FIELDS, *(f"x_{n}" for n in extra)]
    qs = (
        Member.objects.filter(user_id=_NOBODY)
        .annotate(**_annotations(), **{f"x_{name}": value for name, value in extra.items()})
        .values(*names)
    )
    sql, params = qs.query.sql_with_params()
    where = [i for i, value in enumerate(params) if value == _NOBODY]
    assert len(where) == 1, sql  # noqa: S101 - a change of the query above must not pass silently
    fields = []
    for name in names:
        if name.startswith("level__"):
            fields.append((name, MemberLevel._meta.get_field(name.removeprefix("level__"))))
        elif name in MEMBER_FIELDS:
            fields.append((name, Member._meta.get_field(name.removesuffix("_id") if name.endswith("_id") else name)))
        else:
            fields.append((name, None))
    return sql, tuple(params), where[0], fields


def _convert(field, value):
    """A column as the ORM would give it (SQLite returns dates, decimals and booleans as text or numbers)."""
    if value is None or field is None:
        return value
    if field.is_relation:
        return int(value)
    if isinstance(value, date | Decimal | bool):
        return value
    return field.to_python(value)


class Summary:
    """What summary() read: `member` (a Member with its `level`, the annotations of
    members.selectors.member_with_level(with_addresses=True) and `last_points_id`), `counts` (the
    extra columns by name) and `figures` (every value read, for the cache key)."""

    def __init__(self, member, counts, figures):
        self.member = member
        self.counts = counts
        self.figures = figures


def summary(user):
    """The member centre's figures in one query (two when the profile is missing: it is created)."""
    counts_setting = tuple(getattr(settings, "MEMBER_CENTRE_COUNTS", ()))
    sql, params, at, fields = _statement(connection.vendor, counts_setting)
    params = [*params[:at], user.pk, *params[at + 1:]]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        from .services import ensure_member

        ensure_member(user)
        return summary(user)
    values = {name: _convert(field, value) for (name, field), value in zip(fields, row, strict=True)}
    member = Member(**{name: values[name] for name in MEMBER_FIELDS})
    if values["level_id"] is not None:
        member.level = MemberLevel(id=values["level_id"], **{name: values[f"level__{name}"] for name in LEVEL_FIELDS})
    else:
        member.level = None
    for name in SUMMARY_FIELDS:
        setattr(member, name, values[name])
    counts = {name.removeprefix("x_"): values[name] or 0 for name in values if name.startswith("x_")}
    return Summary(member, counts, tuple(values.items()))


def _template_token(name):
    """A digest of the template's source, so a deploy that changes it never serves the old body
    (read once per process; with DEBUG on, where templates change under the server, every time)."""
    if settings.DEBUG:
        return _source_digest(name)
    return _kept_source_digest(name)


def _source_digest(name):
    template = loader.get_template(name).template
    return hashlib.sha1(template.source.encode()).hexdigest()[:12]  # noqa: S324 - a cache key, not security


_kept_source_digest = functools.cache(_source_digest)


def body_key(user, facts):
    """The cache key of the body: the user id, then a digest of everything the body shows."""
    text = repr((get_language(), _template_token(BODY_TEMPLATE), tuple(settings.MEMBER_CENTRE_EXTRAS), facts))
    digest = hashlib.sha256(text.encode()).hexdigest()[:32]
    return f"members:centre:{connection.settings_dict.get('NAME', '')}:{user.pk}:{digest}"


def _local_get(key):
    with _local_lock:
        html = _local.get(key)
        if html is not None:
            _local.move_to_end(key)
        return html


def _local_set(key, html):
    with _local_lock:
        _local[key] = html
        _local.move_to_end(key)
        while len(_local) > LOCAL_MAX_ENTRIES:
            _local.popitem(last=False)


def cached_body(request, facts, build_context):
    """The rendered body for these facts (a tuple of everything it shows), from this process's
    memory, else the shared cache, else rendered with build_context() and kept in both; with this
    request's CSRF token in place. A key names its content, so a kept copy is never stale."""
    key = body_key(request.user, facts)
    html = _local_get(key)
    if html is None:
        html = cache.get(key)
        if html is None:
            context = build_context()
            context["csrf_token"] = CSRF_MARKER
            html = loader.render_to_string(BODY_TEMPLATE, context, request=request)
            cache.set(key, html, BODY_TIMEOUT)
        if not settings.DEBUG:
            _local_set(key, html)
    return mark_safe(html.replace(CSRF_MARKER, csrf_token(request)))  # noqa: S308 - our own rendered template


def clear_local():
    with _local_lock:
        _local.clear()
