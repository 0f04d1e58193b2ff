"""Consent to the 用户协议 and 隐私政策: required before a code or a WeChat authorisation, recorded with
its version and time at the login that follows, on both paths; HQ publishes versions in the admin."""

import pytest
import responses
from django.contrib.auth import get_user_model

from members.models import Consent, LegalDocument

from .test_wechat import fake_wechat, start_login, state_of

pytestmark = pytest.mark.django_db
User = get_user_model()


def test_the_seeded_documents_exist():
    assert set(LegalDocument.objects.values_list("kind", "version")) == {("terms", 1), ("privacy", 1)}


@responses.activate
def test_a_wechat_login_records_the_consent_given_before_the_authorisation(client, wechat_app):
    fake_wechat()
    state = state_of(start_login(client))  # posts agree=on
    client.get("/accounts/weixin/login/callback/", {"code": "CODE", "state": state})
    user = User.objects.get()
    assert {(c.kind, c.version, c.channel) for c in user.consents.all()} == {
        ("terms", 1, "wechat"),
        ("privacy", 1, "wechat"),
    }


def test_connecting_wechat_when_logged_in_needs_no_new_consent(client, wechat_app):
    client.force_login(User.objects.create_user("m13800138000", phone="+8613800138000", phone_verified=True))
    response = client.post("/accounts/weixin/login/", {"process": "connect"})
    assert response.status_code == 302 and response["Location"].startswith("https://open.weixin.qq.com/")


def test_a_staff_login_in_a_session_without_consent_records_nothing(client):
    User.objects.create_user("clerk", password="pw-2026-clerk", is_staff=True)
    client.post("/accounts/staff-login/", {"login": "clerk", "password": "pw-2026-clerk"})
    assert "_auth_user_id" in client.session and not Consent.objects.exists()


def test_a_staff_login_after_a_shopper_ticked_consent_records_nothing(client, sms_outbox):
    """The consent was given for the number the code went to; a staff account logging in through the
    same browser is not that shopper, and a later shopper login must not inherit it either."""
    User.objects.create_user("clerk", password="pw-2026-clerk", is_staff=True)
    client.post("/accounts/login/", {"phone": "13800138000", "agree": "on", "action": "send"})
    assert "pending_consent" in client.session and len(sms_outbox) == 1
    client.post("/accounts/staff-login/", {"login": "clerk", "password": "pw-2026-clerk"})
    assert "_auth_user_id" in client.session
    assert not Consent.objects.exists() and "pending_consent" not in client.session


def test_the_phone_path_records_consent_only_for_the_number_the_code_went_to(rf):
    from django.contrib.sessions.backends.db import SessionStore

    from members.auth.consent import record_pending_consent, remember_consent

    other = User.objects.create_user("m13900139000", phone="+8613900139000", phone_verified=True)
    request = rf.post("/accounts/login/")
    request.session = SessionStore()
    remember_consent(request, "phone", "+8613800138000")
    record_pending_consent(None, request, other)
    assert not Consent.objects.exists()


def test_a_consent_left_waiting_too_long_is_dropped(client, sms_outbox, monkeypatch):
    from members.auth import consent

    client.post("/accounts/login/", {"phone": "13800138000", "agree": "on", "action": "send"})
    monkeypatch.setattr(consent, "PENDING_MINUTES", -1)  # whatever time passed is too long
    client.post("/accounts/login/", {"action": "verify", "code": sms_outbox[-1].params["code"]})
    assert "_auth_user_id" in client.session and not Consent.objects.exists()


def test_hq_publishes_a_new_version_in_the_admin(admin_client):
    response = admin_client.post(
        "/admin/members/legaldocument/add/", {"kind": "privacy", "version": "", "title": "隐私政策", "body": "新版"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert LegalDocument.objects.filter(kind="privacy").order_by("-version").first().version == 2
    assert admin_client.get("/admin/members/consent/").status_code == 200
    assert "新版" in admin_client.get("/accounts/legal/privacy/").content.decode()


def test_an_emptied_table_gets_the_default_texts_back(client, sms_outbox):
    LegalDocument.objects.all().delete()
    assert client.get("/accounts/legal/terms/").status_code == 200
    client.post("/accounts/login/", {"phone": "13800138000", "agree": "on", "action": "send"})
    client.post("/accounts/login/", {"action": "verify", "code": sms_outbox[-1].params["code"]})
    assert set(Consent.objects.values_list("kind", "version")) == {("terms", 1), ("privacy", 1)}
