import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

pytestmark = pytest.mark.django_db


def test_home_renders_the_shop_shell_in_chinese(client, django_assert_max_num_queries):
    # cold cache: categories, recommended products, HQ's banners and notices
    with django_assert_max_num_queries(4):
        response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'lang="zh-hans"' in html
    for label in ("首页", "分类", "购物车", "我的"):
        assert label in html
    assert "vendor/weui/weui.min.css" in html
    assert "vendor/htmx/htmx.min.js" in html


def test_home_renders_in_english(client):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert 'lang="en"' in html
    for label in ("Home", "Categories", "Cart", "Me"):
        assert label in html
    assert "购物车" not in html


def test_language_switch_is_remembered(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert "Cart" in client.get("/").content.decode()


def test_unknown_url_gets_the_friendly_404_in_the_shop_look(client):
    response = client.get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "页面不存在" in html
    assert "weui-btn" in html
    assert "shop-tabbar" in html


@pytest.mark.urls("tests.core.urls_boom")
def test_server_error_page_leaks_nothing(client):
    client.raise_request_exception = False
    response = client.get("/boom/")
    html = response.content.decode()
    assert response.status_code == 500
    assert "系统繁忙" in html
    assert "hunter2" not in html
    assert "Traceback" not in html
    assert "RuntimeError" not in html


def test_backoffice_sends_anonymous_visitors_to_login(client):
    response = client.get("/backoffice/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/staff-login/?next=/backoffice/")


def test_backoffice_refuses_shoppers(client):
    shopper = get_user_model().objects.create_user("shopper", password="x-pass-123456")
    client.force_login(shopper)
    response = client.get("/backoffice/")
    assert response.status_code == 403
    assert "没有权限" in response.content.decode()


def test_backoffice_dashboard_for_staff(client, django_assert_max_num_queries):
    User = get_user_model()
    staff = User.objects.create_user("hq-analyst", password="x-pass-123456", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_user", content_type__app_label="members"))
    User.objects.create_user("a-shopper")
    client.force_login(staff)
    # session, user, member count, signups by day, store notifications badge, and the user's and
    # groups' permissions (read once for the whole menu)
    with django_assert_max_num_queries(8):
        response = client.get("/backoffice/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "vendor/echarts/echarts.min.js" in html
    assert 'id="signups-data"' in html
    assert "概览" in html
    assert response.context["member_count"] == 1  # the shopper: staff are not members
    assert response.context["signups"][-1]["n"] == 1


def test_admin_is_branded_in_chinese(admin_client):
    html = admin_client.get("/admin/").content.decode()
    assert "多门店分销 管理后台" in html


def test_backoffice_dashboard_hides_member_figures_from_store_staff(client):
    clerk = get_user_model().objects.create_user("clerk", password="x-pass-123456", is_staff=True)
    client.force_login(clerk)
    response = client.get("/backoffice/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "会员总数" not in html and 'id="signups-data"' not in html
