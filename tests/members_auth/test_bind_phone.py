"""A WeChat user (no phone) binds one, proven by an SMS code, before the first order."""

import pytest
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.test import RequestFactory

from members.auth.guards import bind_phone_redirect, require_bound_phone

from .conftest import last_code

pytestmark = pytest.mark.django_db
User = get_user_model()
PHONE = "+8613800138000"


@pytest.fixture
def wechat_user(client):
    user = User.objects.create_user("wx_abc", nickname="张小花")
    user.set_unusable_password()
    user.save()
    client.force_login(user)
    return user


@require_bound_phone
def place_order(request):
    return HttpResponse("ordered")


def guarded(user, path="/orders/checkout/?sku=1"):
    request = RequestFactory().get(path)
    request.user = user
    return place_order(request)


def test_guard_sends_a_user_without_phone_to_bind_it_and_back(wechat_user):
    response = guarded(wechat_user)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/bind-phone/?next=%2Forders%2Fcheckout%2F%3Fsku%3D1"


def test_guard_sends_anonymous_visitors_to_login():
    from django.contrib.auth.models import AnonymousUser

    response = guarded(AnonymousUser())
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")


def test_guard_lets_a_verified_phone_through(wechat_user):
    wechat_user.phone, wechat_user.phone_verified = PHONE, True
    assert guarded(wechat_user).content == b"ordered"
    request = RequestFactory().get("/x/")
    request.user = wechat_user
    assert bind_phone_redirect(request) is None


def test_guard_does_not_accept_an_unverified_phone(wechat_user):
    wechat_user.phone, wechat_user.phone_verified = PHONE, False
    assert guarded(wechat_user).status_code == 302


def test_bind_phone_with_its_code_then_back_to_next(client, wechat_user, sms_outbox):
    response = client.post("/accounts/bind-phone/", {"action": "send", "phone": "138 0013 8000", "next": "/orders/checkout/"})
    assert response.status_code == 302
    assert sms_outbox[-1].phone == PHONE
    wechat_user.refresh_from_db()
    assert wechat_user.phone is None  # not bound before the code
    response = client.post(
        "/accounts/bind-phone/", {"action": "verify", "code": last_code(sms_outbox), "next": "/orders/checkout/"}
    )
    assert response.status_code == 302 and response["Location"] == "/orders/checkout/"
    wechat_user.refresh_from_db()
    assert (wechat_user.phone, wechat_user.phone_verified) == (PHONE, True)
    assert guarded(wechat_user).content == b"ordered"


@pytest.mark.parametrize("evil", ["https://evil.example/", "//evil.example/"])
def test_bind_phone_ignores_an_offsite_next(client, wechat_user, sms_outbox, evil):
    client.post("/accounts/bind-phone/", {"action": "send", "phone": PHONE, "next": evil})
    response = client.post("/accounts/bind-phone/", {"action": "verify", "code": last_code(sms_outbox), "next": evil})
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]


def test_wrong_code_binds_nothing(client, wechat_user, sms_outbox):
    client.post("/accounts/bind-phone/", {"action": "send", "phone": PHONE})
    wrong = "000000" if last_code(sms_outbox) != "000000" else "111111"
    response = client.post("/accounts/bind-phone/", {"action": "verify", "code": wrong})
    assert response.status_code == 200
    assert "验证码错误或已过期" in response.content.decode()
    wechat_user.refresh_from_db()
    assert wechat_user.phone is None


def test_three_wrong_codes_start_over(client, wechat_user, sms_outbox):
    client.post("/accounts/bind-phone/", {"action": "send", "phone": PHONE})
    code = last_code(sms_outbox)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(3):
        response = client.post("/accounts/bind-phone/", {"action": "verify", "code": wrong})
    assert response.status_code == 302
    client.post("/accounts/bind-phone/", {"action": "verify", "code": code})
    wechat_user.refresh_from_db()
    assert wechat_user.phone is None


def test_malformed_phone_sends_nothing(client, wechat_user, sms_outbox):
    response = client.post("/accounts/bind-phone/", {"action": "send", "phone": "+1 415 555 0100"})
    assert response.status_code == 200
    assert "请输入正确的11位手机号码" in response.content.decode()
    assert not sms_outbox


def test_a_phone_of_another_account_is_refused_after_its_code(client, wechat_user, sms_outbox):
    other = User.objects.create_user("m13800138000", phone=PHONE, phone_verified=True)
    response = client.post("/accounts/bind-phone/", {"action": "send", "phone": PHONE})
    assert response.status_code == 302  # the page does not tell who is registered
    response = client.post("/accounts/bind-phone/", {"action": "verify", "code": last_code(sms_outbox)})
    assert response.status_code == 200
    assert "该手机号已绑定其他账号" in response.content.decode()
    wechat_user.refresh_from_db()
    other.refresh_from_db()
    assert wechat_user.phone is None and other.phone == PHONE


def test_codes_per_phone_are_limited_when_binding(client, wechat_user, sms_outbox):
    client.post("/accounts/bind-phone/", {"action": "send", "phone": PHONE})
    client.post("/accounts/bind-phone/", {"action": "restart"})
    response = client.post("/accounts/bind-phone/", {"action": "send", "phone": PHONE})
    assert response.status_code == 200
    assert "验证码发送过于频繁" in response.content.decode()
    assert len(sms_outbox) == 1


def test_bind_page_needs_login(client):
    response = client.get("/accounts/bind-phone/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_bind_page_queries(client, wechat_user, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        response = client.get("/accounts/bind-phone/?next=/orders/checkout/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="phone"' in html and 'value="/orders/checkout/"' in html


# --- development outbox ---------------------------------------------------------------------
def test_dev_outbox_is_404_when_debug_is_off(client, settings):
    settings.DEBUG = False
    assert client.get("/accounts/dev/sms-outbox/").status_code == 404


def test_dev_outbox_shows_the_last_codes_when_debug(client, settings, sms_outbox, django_assert_max_num_queries):
    settings.DEBUG = True
    User.objects.create_user("m13800138000", phone=PHONE, phone_verified=True)
    client.post("/accounts/login/", {"phone": PHONE, "agree": "on", "action": "send"})
    code = last_code(sms_outbox)
    with django_assert_max_num_queries(2):
        response = client.get("/accounts/dev/sms-outbox/")
    assert response.status_code == 200
    html = response.content.decode()
    assert code in html and "13800138000" in html


def test_dev_outbox_reads_the_console_backend(client, settings):
    from core.sms import send_sms

    settings.DEBUG = True
    settings.SMS_BACKEND = "console"
    send_sms(PHONE, "verification_code", {"code": "424242"})
    assert "424242" in client.get("/accounts/dev/sms-outbox/").content.decode()


def test_a_number_claimed_but_never_verified_elsewhere_goes_to_whoever_proves_it(client, wechat_user, sms_outbox):
    squatter = User.objects.create_user("m13800138000", phone=PHONE, phone_verified=False)
    client.post("/accounts/bind-phone/", {"action": "send", "phone": PHONE})
    response = client.post("/accounts/bind-phone/", {"action": "verify", "code": last_code(sms_outbox)})
    assert response.status_code == 302
    wechat_user.refresh_from_db()
    squatter.refresh_from_db()
    assert (wechat_user.phone, wechat_user.phone_verified) == (PHONE, True)
    assert squatter.phone is None


def test_binding_a_number_taken_meanwhile_changes_nothing(wechat_user):
    from django.core.exceptions import ValidationError

    from members.auth.adapter import AccountAdapter

    User.objects.create_user("m13800138000", phone=PHONE, phone_verified=True)
    with pytest.raises(ValidationError):
        AccountAdapter().set_phone_verified(wechat_user, PHONE)
    wechat_user.refresh_from_db()
    assert wechat_user.phone is None


# --- a WeChat login that belongs to an existing phone account -------------------------------
@pytest.fixture
def wechat_only(client):
    from allauth.socialaccount.models import SocialAccount

    user = User.objects.create_user("wx_merge", nickname="微信昵称")
    SocialAccount.objects.create(user=user, provider="weixin", uid="openid-1", extra_data={"unionid": "union-1"})
    client.force_login(user)
    return user


def test_wechat_only_account_proving_a_phone_account_is_merged_into_it(client, wechat_only, sms_outbox):
    from allauth.socialaccount.models import SocialAccount

    from members.auth.merging import accounts_merged

    owner = User.objects.create_user("m13800138000", phone=PHONE, phone_verified=True)
    seen = []
    accounts_merged.connect(lambda sender, from_user, to_user, **kw: seen.append((from_user.pk, to_user.pk)), weak=False, dispatch_uid="t")
    try:
        client.post("/accounts/bind-phone/", {"action": "send", "phone": PHONE, "next": "/orders/checkout/"})
        response = client.post(
            "/accounts/bind-phone/", {"action": "verify", "code": last_code(sms_outbox), "next": "/orders/checkout/"}
        )
    finally:
        accounts_merged.disconnect(dispatch_uid="t")
    assert response.status_code == 302 and response["Location"] == "/orders/checkout/"
    assert client.session["_auth_user_id"] == str(owner.pk)
    account = SocialAccount.objects.get(uid="openid-1")
    assert account.user_id == owner.pk and account.extra_data["unionid"] == "union-1"
    wechat_only.refresh_from_db()
    owner.refresh_from_db()
    assert not wechat_only.is_active and wechat_only.phone is None
    assert owner.nickname == "微信昵称"
    assert seen == [(wechat_only.pk, owner.pk)]


def test_phone_account_with_its_own_wechat_is_not_merged(client, wechat_only, sms_outbox):
    from allauth.socialaccount.models import SocialAccount

    owner = User.objects.create_user("m13800138000", phone=PHONE, phone_verified=True)
    SocialAccount.objects.create(user=owner, provider="weixin", uid="openid-2")
    client.post("/accounts/bind-phone/", {"action": "send", "phone": PHONE})
    response = client.post("/accounts/bind-phone/", {"action": "verify", "code": last_code(sms_outbox)}, follow=True)
    assert "该手机号已绑定其他微信账号" in response.content.decode()
    assert client.session["_auth_user_id"] == str(wechat_only.pk)
    assert SocialAccount.objects.get(uid="openid-1").user_id == wechat_only.pk
    wechat_only.refresh_from_db()
    assert wechat_only.is_active and wechat_only.phone is None


def test_staff_phone_account_is_never_merged_into(client, wechat_only, sms_outbox):
    User.objects.create_user("boss", phone=PHONE, phone_verified=True, is_staff=True)
    client.post("/accounts/bind-phone/", {"action": "send", "phone": PHONE})
    client.post("/accounts/bind-phone/", {"action": "verify", "code": last_code(sms_outbox)})
    assert client.session["_auth_user_id"] == str(wechat_only.pk)
    wechat_only.refresh_from_db()
    assert wechat_only.is_active


def test_wrong_code_never_merges(client, wechat_only, sms_outbox):
    owner = User.objects.create_user("m13800138000", phone=PHONE, phone_verified=True)
    client.post("/accounts/bind-phone/", {"action": "send", "phone": PHONE})
    wrong = "000000" if last_code(sms_outbox) != "000000" else "111111"
    client.post("/accounts/bind-phone/", {"action": "verify", "code": wrong})
    assert client.session["_auth_user_id"] == str(wechat_only.pk)
    assert owner.socialaccount_set.count() == 0
