"""The login and bind-phone pages have a top bar with a back arrow: to where the shopper was going
(a path on this site only) or a safe default."""

import re

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db


def back_href(html):
    match = re.search(r'<a class="shop-back" href="([^"]*)" data-nav-back aria-label="返回">', html)
    assert match, "no back arrow"
    return match.group(1)


def test_login_page_has_a_back_arrow_home(client):
    html = client.get("/accounts/login/?next=/orders/checkout/").content.decode()
    assert back_href(html) == "/"
    assert "#chevron-left" in html


@pytest.mark.parametrize("next_url,expected", [
    ("/orders/checkout/", "/orders/checkout/"),
    ("https://evil.example/", "/members/me/"),
    ("javascript:alert(1)", "/members/me/"),
    ("", "/members/me/"),
])
def test_bind_phone_back_arrow_goes_where_the_shopper_was_going_on_this_site(client, next_url, expected):
    user = get_user_model().objects.create_user("wx_back", nickname="小白")
    client.force_login(user)
    html = client.get("/accounts/bind-phone/", {"next": next_url}).content.decode()
    assert back_href(html) == expected


def test_staff_login_keeps_its_page_without_a_shop_back_arrow(client):
    response = client.get("/accounts/staff-login/")
    assert response.status_code == 200
    assert 'class="shop-back"' not in response.content.decode()
