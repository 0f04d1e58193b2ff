"""Every back-office page fits a phone (issue 11, item 5): HQ and a store manager open EVERY page
under /backoffice/ that answers them with a page (the URL patterns walked as test_url_walk.py does,
filled with real ids from walk_world.py) in Chromium at 390 px, and none scrolls sideways: the
document is no wider than the screen (a wide table may scroll inside its own box, never the page),
and no table of more than five columns is squeezed into it instead of shown as cards.
A screenshot of each under var/test-artifacts/screenshots/bo390-<who>-<page>.png."""

import re

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from .test_url_walk import _kwargs_for, all_patterns
from .walk_world import build_world, real_kwargs

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
PHONE_WIDTH = 390


def make_manager(store):
    from orders.demo import MANAGER_PERMISSIONS
    from stores.demo import STAFF_PERMISSIONS
    from stores.models import StoreStaff

    user = get_user_model().objects.create_user("phone-manager", password="pw-phone-123456", is_staff=True)
    user.user_permissions.add(*[Permission.objects.get(content_type__app_label=a, codename=c)
                                for a, c in STAFF_PERMISSIONS])
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="orders",
                                                         codename__in=MANAGER_PERMISSIONS))
    StoreStaff.objects.create(user=user, store=store, role=StoreStaff.Role.MANAGER)
    return get_user_model().objects.get(pk=user.pk)


def pages_for(user, world):
    """(URL name, path) of every back-office page this user is shown: each pattern under
    backoffice/ with its real ids, kept when a GET answers 200 with a whole HTML page (not a
    redirect, a refusal, a CSV, JSON or an htmx fragment)."""
    client = Client()
    client.force_login(user)
    real = real_kwargs(world)
    found = []
    for pattern in all_patterns():
        if pattern.area != "backoffice":
            continue
        for kwargs in _kwargs_for(pattern, real, world) or []:
            path = pattern.fill(kwargs)
            response = client.get(path)
            if response.status_code != 200 or response.streaming:
                continue
            if not response.get("Content-Type", "").startswith("text/html") or b"<html" not in response.content[:600]:
                continue
            found.append((pattern.name, path))
    return found


def login(context, live_server, user):
    client = Client()
    client.force_login(user)
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                          "url": live_server.url}])


# A table shown as a table on the phone (not as cards, not inside its own scroll box) with more
# columns than this squeezes its text to a character a line: such a page fits, but cannot be read.
MOST_COLUMNS = 5
SQUEEZED_TABLES = """() => [...document.querySelectorAll("table")].filter((table) =>
    table.offsetParent !== null && !table.classList.contains("obo-cardtable")
    && !table.closest(".mk-table-scroll, .obo-ticket")
    && Math.max(0, ...[...table.rows].map((row) => row.cells.length)) > MOST_COLUMNS
).map((table) => table.dataset.testid || table.className || "table")""".replace("MOST_COLUMNS", str(MOST_COLUMNS))


def walk_at_phone_width(page, live_server, screenshot, who, pages):
    too_wide = []
    for name, path in pages:
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("load")
        width = page.evaluate("document.documentElement.scrollWidth")
        slug = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")
        screenshot(f"bo390-{who}-{slug}")
        if width > PHONE_WIDTH:
            too_wide.append(f"{name} {path}: {width}px")
        squeezed = page.evaluate(SQUEEZED_TABLES)
        if squeezed:
            too_wide.append(f"{name} {path}: tables of more than {MOST_COLUMNS} columns, not cards: {squeezed}")
    return too_wide


@pytest.fixture
def world(settings):
    settings.PAYMENT_DEV_GATEWAY = True
    import responses

    with responses.RequestsMock(assert_all_requests_are_fired=False):  # nothing leaves the machine
        yield build_world()


def test_every_back_office_page_fits_390px_for_hq_and_a_store_manager(live_server, page, screenshot, world):
    manager = make_manager(world.store)
    hq_pages = pages_for(world.hq, world)
    manager_pages = pages_for(manager, world)
    # the walk reaches the pages that matter on a phone, for both
    hq_names = {name for name, _path in hq_pages}
    manager_names = {name for name, _path in manager_pages}
    for name in ("backoffice:dashboard", "orders_bo:pickups", "orders_bo:queue", "orders_bo:detail",
                 "stores_bo:stock", "stores_bo:documents", "stores_bo:document", "stores_bo:transfers",
                 "stores_bo:transfer_detail", "stores_bo:alerts"):
        assert name in hq_names and name in manager_names, name
    assert {"orders_bo:reconciliation", "marketing_bo:home_list", "members_bo:list"} <= hq_names
    assert len(hq_pages) > len(manager_pages) > 15

    login(page.context, live_server, world.hq)
    too_wide = walk_at_phone_width(page, live_server, screenshot, "hq", hq_pages)
    page.context.clear_cookies()
    login(page.context, live_server, manager)
    too_wide += walk_at_phone_width(page, live_server, screenshot, "manager", manager_pages)
    assert not too_wide, "\n".join(too_wide)
