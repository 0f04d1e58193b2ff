"""WeChat in-app login through allauth's weixin provider, with WeChat's endpoints faked at HTTP level."""

from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model

from members.models import Member

from .conftest import WECHAT_UA

pytestmark = pytest.mark.django_db
User = get_user_model()

TOKEN_URL = "https://api.weixin.qq.com/sns/oauth2/access_token"
USERINFO_URL = "https://api.weixin.qq.com/sns/userinfo"
OPENID = "oLVPpjqs9BhvzwPj5A-vTYAX3GLc"
UNIONID = "o6_bmasdasdsad6_2sgVt7hMZOPfL"

# documented answers of sns/oauth2/access_token and sns/userinfo
TOKEN_OK = {
    "access_token": "ACCESS_TOKEN",
    "expires_in": 7200,
    "refresh_token": "REFRESH_TOKEN",
    "openid": OPENID,
    "scope": "snsapi_userinfo",
    "unionid": UNIONID,
}
USERINFO_OK = {
    "openid": OPENID,
    "nickname": "张小花",
    "sex": 2,
    "province": "广东",
    "city": "深圳",
    "country": "中国",
    "headimgurl": "https://thirdwx.qlogo.cn/mmopen/g3MonUZtNHkdmzicIlibx6iaFqAc56vxLSUfpb6n5WKSYVY0ChQKkiaJSgQ1dZuTOgvLLrhJbERQQ4eMsv84eavHiaiceqxibJxCfHe/46",
    "privilege": [],
    "unionid": UNIONID,
}


def start_login(client, next_url=None):
    data = {"process": "login", "agree": "on"}
    if next_url:
        data["next"] = next_url
    response = client.post("/accounts/weixin/login/", data, HTTP_USER_AGENT=WECHAT_UA)
    assert response.status_code == 302
    return response["Location"]


def state_of(url):
    return parse_qs(urlsplit(url).query)["state"][0]


def fake_wechat(token=TOKEN_OK, userinfo=USERINFO_OK):
    responses.get(TOKEN_URL, json=token)
    responses.get(USERINFO_URL, json=userinfo)


def test_redirect_goes_to_the_in_wechat_authorize_url(client, wechat_app):
    url = start_login(client)
    assert url.startswith("https://open.weixin.qq.com/connect/oauth2/authorize?")
    assert url.endswith("#wechat_redirect")
    query = parse_qs(urlsplit(url).query)
    assert query["appid"] == ["wx1234567890abcdef"]
    assert query["scope"] == ["snsapi_userinfo"]
    assert query["response_type"] == ["code"]
    assert query["redirect_uri"] == ["http://testserver/accounts/weixin/login/callback/"]
    assert len(query["state"][0]) >= 12
    # WeChat checks the parameter order
    keys = [pair.split("=")[0] for pair in urlsplit(url).query.split("&")]
    assert keys == ["appid", "redirect_uri", "response_type", "scope", "state"]


@responses.activate
def test_first_wechat_login_creates_a_member_with_openid_and_unionid(client, wechat_app):
    fake_wechat()
    state = state_of(start_login(client, next_url="/members/me/"))
    response = client.get("/accounts/weixin/login/callback/", {"code": "CODE", "state": state})
    assert response.status_code == 302 and response["Location"] == "/members/me/"
    account = SocialAccount.objects.get(provider="weixin")
    assert account.uid == OPENID
    assert account.extra_data["unionid"] == UNIONID
    user = account.user
    assert user.nickname == "张小花"
    assert user.phone is None and not user.has_usable_password()
    assert user.username.startswith("wx_")
    assert user.member.source == Member.Source.WECHAT
    assert client.session["_auth_user_id"] == str(user.pk)
    # the code is exchanged server-side with the app secret, by GET as documented
    token_query = parse_qs(urlsplit(responses.calls[0].request.url).query)
    assert token_query == {
        "appid": ["wx1234567890abcdef"],
        "secret": ["wechat-test-secret"],
        "code": ["CODE"],
        "grant_type": ["authorization_code"],
    }


@responses.activate
def test_second_wechat_login_reuses_the_account(client, wechat_app):
    fake_wechat()
    client.get("/accounts/weixin/login/callback/", {"code": "C1", "state": state_of(start_login(client))})
    client.post("/accounts/logout/")
    client.get("/accounts/weixin/login/callback/", {"code": "C2", "state": state_of(start_login(client))})
    assert User.objects.count() == 1 and SocialAccount.objects.count() == 1
    assert "_auth_user_id" in client.session


@responses.activate
def test_unionid_from_the_token_answer_is_kept_when_userinfo_lacks_it(client, wechat_app):
    fake_wechat(userinfo={k: v for k, v in USERINFO_OK.items() if k != "unionid"})
    client.get("/accounts/weixin/login/callback/", {"code": "CODE", "state": state_of(start_login(client))})
    assert SocialAccount.objects.get().extra_data["unionid"] == UNIONID


@responses.activate
def test_replayed_state_is_refused(client, wechat_app):
    fake_wechat()
    state = state_of(start_login(client))
    client.get("/accounts/weixin/login/callback/", {"code": "CODE", "state": state})
    client.post("/accounts/logout/")
    response = client.get("/accounts/weixin/login/callback/", {"code": "CODE", "state": state})
    assert response.status_code == 401
    assert "微信登录失败" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert len([c for c in responses.calls if c.request.url.startswith(TOKEN_URL)]) == 1


@responses.activate
def test_unknown_state_is_refused_and_wechat_is_never_called(client, wechat_app):
    fake_wechat()
    start_login(client)
    response = client.get("/accounts/weixin/login/callback/", {"code": "CODE", "state": "forged-state-123"})
    assert response.status_code == 401 and "微信登录失败" in response.content.decode()
    assert not responses.calls and not User.objects.exists()


@responses.activate
def test_state_from_another_session_is_refused(client, wechat_app):
    from django.test import Client

    fake_wechat()
    state = state_of(start_login(client))
    response = Client().get("/accounts/weixin/login/callback/", {"code": "CODE", "state": state})
    assert response.status_code == 401 and "微信登录失败" in response.content.decode()
    assert not User.objects.exists()


@responses.activate
def test_invalid_code_answer_creates_no_user(client, wechat_app):
    responses.get(TOKEN_URL, json={"errcode": 40029, "errmsg": "invalid code"})
    response = client.get("/accounts/weixin/login/callback/", {"code": "BAD", "state": state_of(start_login(client))})
    assert response.status_code == 401 and "微信登录失败" in response.content.decode()
    assert not User.objects.exists() and not SocialAccount.objects.exists()


@responses.activate
def test_userinfo_error_creates_no_user(client, wechat_app):
    fake_wechat(userinfo={"errcode": 40003, "errmsg": "invalid openid"})
    response = client.get("/accounts/weixin/login/callback/", {"code": "CODE", "state": state_of(start_login(client))})
    assert response.status_code == 401 and "微信登录失败" in response.content.decode()
    assert not User.objects.exists()


@responses.activate
def test_userinfo_for_another_openid_is_refused(client, wechat_app):
    fake_wechat(userinfo={**USERINFO_OK, "openid": "someone-else"})
    client.get("/accounts/weixin/login/callback/", {"code": "CODE", "state": state_of(start_login(client))})
    assert not User.objects.exists()


def test_user_cancelled_authorisation(client, wechat_app):
    state = state_of(start_login(client))
    response = client.get("/accounts/weixin/login/callback/", {"state": state})  # WeChat sends no code
    assert response.status_code == 401
    assert not User.objects.exists()


def test_login_page_offers_wechat_first_inside_wechat(client, wechat_app, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        html = client.get("/accounts/login/", HTTP_USER_AGENT=WECHAT_UA).content.decode()
    assert "微信一键登录" in html
    assert html.index("微信一键登录") < html.index("获取验证码")


def test_login_page_hides_wechat_outside_wechat(client, wechat_app):
    html = client.get("/accounts/login/", HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Chrome/120").content.decode()
    assert "微信一键登录" not in html


def test_login_page_hides_wechat_when_no_app_is_configured(client):
    html = client.get("/accounts/login/", HTTP_USER_AGENT=WECHAT_UA).content.decode()
    assert "微信一键登录" not in html


@responses.activate
def test_wechat_identity_gives_openid_and_unionid_for_payments(client, wechat_app, django_assert_num_queries):
    from members.auth.weixin import wechat_identity

    fake_wechat()
    client.get("/accounts/weixin/login/callback/", {"code": "CODE", "state": state_of(start_login(client))})
    user = User.objects.get()
    with django_assert_num_queries(1):
        assert wechat_identity(user) == (OPENID, UNIONID)
    assert wechat_identity(User.objects.create_user("staff")) == (None, None)


def test_authorize_url_keeps_next_server_side(client, wechat_app):
    url = start_login(client, next_url="/members/me/")
    assert "members" not in url and "next" not in url


@responses.activate
def test_a_phone_member_connects_wechat_to_the_same_account(client, wechat_app):
    member = User.objects.create_user("m13800138000", phone="+8613800138000", phone_verified=True)
    client.force_login(member)
    fake_wechat()
    response = client.post("/accounts/weixin/login/", {"process": "connect"}, HTTP_USER_AGENT=WECHAT_UA)
    response = client.get("/accounts/weixin/login/callback/", {"code": "CODE", "state": state_of(response["Location"])})
    assert response.status_code == 302 and response["Location"] == "/members/me/"
    assert SocialAccount.objects.get().user_id == member.pk
    assert User.objects.count() == 1
