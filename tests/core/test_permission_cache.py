"""Staff permissions read from the cache (core.permissions) and the back-office menu rendered once
per combination of what it shows (core.templatetags.backoffice_menu): fewer queries per page, and
never a stale permission or another user's menu."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.cache import reset_breakers
from stores.models import StoreNotification, StoreStaff
from tests.orders.factories import make_store

pytestmark = [pytest.mark.django_db, pytest.mark.redis]
User = get_user_model()
DASHBOARD = reverse("backoffice:dashboard")
QUEUE = reverse("orders_bo:queue")
CLOSED_PORT = "redis://:never-logged@127.0.0.1:6390/0"  # nothing listens here


def _perm(label):
    app, codename = label.split(".")
    return Permission.objects.get(content_type__app_label=app, codename=codename)


def _staff(*labels):
    user = User.objects.create_user(f"staff{User.objects.count()}", password="pw-12345678", is_staff=True)
    user.user_permissions.add(*[_perm(label) for label in labels])
    return user


def _permission_queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    return response, [q["sql"] for q in captured.captured_queries if "auth_permission" in q["sql"]]


def test_a_staff_members_permissions_are_read_once_then_from_the_cache(client):
    client.force_login(_staff("orders.view_order"))
    first, read = _permission_queries(client, DASHBOARD)
    assert first.status_code == 200 and len(read) == 2  # their own, their groups'
    again, read = _permission_queries(client, DASHBOARD)
    assert again.status_code == 200 and read == []
    menu = first.content.decode().split('<nav class="bo-menu"')[1].split("</nav>")[0]
    assert "订单管理" in menu and menu in again.content.decode()  # the same menu, the second time stored


def test_a_permission_granted_or_taken_is_seen_on_the_next_page(client):
    store = make_store()
    user = _staff()
    StoreStaff.objects.create(user=user, store=store, role=StoreStaff.Role.CLERK)
    client.force_login(user)
    assert client.get(QUEUE).status_code == 403
    user.user_permissions.add(_perm("orders.view_order"))
    assert client.get(QUEUE).status_code == 200
    user.user_permissions.remove(_perm("orders.view_order"))
    assert client.get(QUEUE).status_code == 403


def test_a_groups_permissions_and_membership_are_seen_on_the_next_page(client):
    store = make_store()
    user = _staff()
    StoreStaff.objects.create(user=user, store=store, role=StoreStaff.Role.CLERK)
    group = Group.objects.create(name="店员组")
    client.force_login(user)
    user.groups.add(group)
    assert client.get(QUEUE).status_code == 403
    group.permissions.add(_perm("orders.view_order"))  # the group's side: no user is named
    assert client.get(QUEUE).status_code == 200
    group.user_set.remove(user)  # membership changed from the group's side
    assert client.get(QUEUE).status_code == 403
    user.groups.add(group)
    assert client.get(QUEUE).status_code == 200
    group.delete()
    assert client.get(QUEUE).status_code == 403


def test_becoming_superuser_and_store_assignments_replace_the_stored_set(client):
    user = _staff()
    client.force_login(user)
    assert client.get(QUEUE).status_code == 403
    User.objects.filter(pk=user.pk).update(is_superuser=True)  # no signal: the stored set says "not superuser"
    assert client.get(QUEUE).status_code == 200
    from django.core.cache import cache

    token = cache.get("perms:token")
    StoreStaff.objects.create(user=user, store=make_store(), role=StoreStaff.Role.CLERK)
    assert cache.get("perms:token") not in (None, token)


def test_a_change_replaces_the_token_again_when_it_commits(django_capture_on_commit_callbacks):
    """A request reading the old rows while the change is open could store them under the token
    replaced at once: the token is replaced again after the commit."""
    from django.core.cache import cache

    user = _staff()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        user.user_permissions.add(_perm("orders.view_order"))
        during = cache.get("perms:token")
    assert callbacks
    for callback in callbacks:
        callback()
    assert cache.get("perms:token") not in (None, during)


def test_the_menu_follows_each_users_permissions_page_and_badge(client):
    store = make_store()
    clerk = _staff("orders.view_order")
    StoreStaff.objects.create(user=clerk, store=store, role=StoreStaff.Role.CLERK)
    keeper = _staff("stores.view_stock", "stores.view_lowstockalert")
    StoreStaff.objects.create(user=keeper, store=store, role=StoreStaff.Role.MANAGER)
    client.force_login(clerk)
    page = client.get(QUEUE).content.decode()
    assert "订单管理" in page and "门店库存" not in page
    assert f'is-active" href="{QUEUE}"' in page
    home = client.get(DASHBOARD).content.decode()
    assert f'is-active" href="{DASHBOARD}"' in home and f'is-active" href="{QUEUE}"' not in home
    assert f'data-user="{clerk.pk}"' in home
    client.force_login(keeper)
    page = client.get(DASHBOARD).content.decode()
    assert "门店库存" in page and "订单管理" not in page and f'data-user="{clerk.pk}"' not in page
    assert "bo-badge" not in page
    StoreNotification.objects.create(user=keeper, store=store, kind="low_stock", title="库存不足", body="坚果")
    page = client.get(DASHBOARD).content.decode()
    assert '<span class="bo-badge">1</span>' in page


def test_the_menu_is_rendered_in_the_shoppers_language(client):
    client.force_login(_staff("orders.view_order"))
    assert "订单管理" in client.get(DASHBOARD).content.decode()
    english = client.get(DASHBOARD, headers={"accept-language": "en"}).content.decode()
    assert "订单管理" not in english


def test_back_office_pages_answer_while_redis_is_down(client, settings):
    reset_breakers()
    real = settings.CACHES["default"]
    assert real["BACKEND"] == "core.cache.ResilientRedisCache"
    user = _staff("orders.view_order")
    client.force_login(user)
    settings.CACHES = {"default": {**real, "LOCATION": CLOSED_PORT}}
    try:
        response, read = _permission_queries(client, DASHBOARD)
        assert response.status_code == 200 and len(read) == 2  # from the database, every time
        user.user_permissions.remove(_perm("orders.view_order"))  # no token can be written: no error either
        assert "订单管理" not in client.get(DASHBOARD).content.decode()
    finally:
        reset_breakers()


def test_the_token_is_replaced_when_redis_answers_again():
    from django.core.cache import cache

    from core.cache import cache_recovered

    _staff("orders.view_order").get_all_permissions()  # stores a set under the current token
    before = cache.get("perms:token")
    cache_recovered.send(sender="redis://127.0.0.1:6379/5")
    assert cache.get("perms:token") not in (None, before)
