"""Staff keep username + password (allauth's login form with its failed-attempt limit)."""

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def staff():
    return User.objects.create_user("hq", password="hq-pass-2026x", is_staff=True)


def test_back_office_sends_anonymous_visitors_to_the_staff_login(client):
    response = client.get("/backoffice/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/staff-login/?next=/backoffice/")


def test_staff_logs_in_with_username_and_password(client, staff):
    response = client.post("/accounts/staff-login/", {"login": "hq", "password": "hq-pass-2026x", "next": "/backoffice/"})
    assert response.status_code == 302 and response["Location"] == "/backoffice/"
    assert client.session["_auth_user_id"] == str(staff.pk)


def test_wrong_password_is_refused_with_a_message(client, staff):
    response = client.post("/accounts/staff-login/", {"login": "hq", "password": "nope"})
    assert response.status_code == 200
    assert "用户名或密码错误" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_failed_passwords_are_rate_limited(client, staff):
    for _ in range(5):
        client.post("/accounts/staff-login/", {"login": "hq", "password": "wrong"})
    response = client.post("/accounts/staff-login/", {"login": "hq", "password": "hq-pass-2026x"})
    assert response.status_code == 200
    assert "尝试次数过多，请稍后再试" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("evil", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
def test_staff_login_ignores_an_offsite_next(client, staff, evil):
    response = client.post("/accounts/staff-login/", {"login": "hq", "password": "hq-pass-2026x", "next": evil})
    assert response.status_code == 302 and response["Location"] == "/"


def test_phone_login_page_has_no_password_field(client):
    html = client.get("/accounts/login/").content.decode()
    assert 'name="password"' not in html


def test_staff_login_page_queries(client, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        response = client.get("/accounts/staff-login/")
    assert response.status_code == 200
    assert 'name="login"' in response.content.decode() and 'name="password"' in response.content.decode()


def test_admin_login_goes_through_the_staff_login(client, staff):
    response = client.get("/admin/")
    assert response.status_code == 302
    response = client.get(response["Location"])
    assert response.status_code == 302
    assert response["Location"] == "/accounts/staff-login/?next=%2Fadmin%2F"
    response = client.post("/accounts/staff-login/", {"login": "hq", "password": "hq-pass-2026x", "next": "/admin/"})
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_admin_login_refuses_a_logged_in_shopper(client):
    shopper = User.objects.create_user("m13800138000", phone="+8613800138000", phone_verified=True)
    client.force_login(shopper)
    assert client.get("/admin/login/?next=/admin/").status_code == 403


def test_admin_login_ignores_an_offsite_next(client):
    response = client.get("/admin/login/?next=https://evil.example/")
    assert response["Location"] == "/accounts/staff-login/?next=%2Fadmin%2F"
