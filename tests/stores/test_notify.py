"""core.notify: the backends chosen in settings, the WeChat template and SMS adapters."""

import pytest

from core import notify as notify_module
from core.notify import SmsNotifier, WeChatTemplateNotifier, notify

from .conftest import make_staff

pytestmark = pytest.mark.django_db


class Broken:
    def send(self, users, subject, body, *, kind):
        raise RuntimeError("down")


def test_log_backend_by_default_and_a_broken_backend_does_not_stop_the_others(settings, caplog):
    user = make_staff()
    settings.NOTIFIER_BACKENDS = ["tests.stores.test_notify.Broken", "core.notify.LogNotifier"]
    with caplog.at_level("INFO", logger="core.notify"):
        result = notify(user, "低库存", "请补货", kind="low_stock")
    assert result == {"Broken": 0, "LogNotifier": 1}
    assert "kind=low_stock" in caplog.text
    assert notify([], "x", "y", kind="k") == {}


def test_wechat_template_message_goes_to_the_weixin_openid(settings):
    from allauth.socialaccount.models import SocialAccount

    settings.WECHAT_APP_ID, settings.WECHAT_APP_SECRET, settings.WECHAT_NOTIFY_TEMPLATE_ID = "wx1", "s", "TPL"
    with_openid, without = make_staff(), make_staff()
    SocialAccount.objects.create(user=with_openid, provider="weixin", uid="openid-123")
    sent = []

    class FakeMessage:
        def send_template(self, openid, template_id, data):
            sent.append((openid, template_id, data["keyword1"]["value"], data["remark"]["value"]))

    class FakeClient:
        message = FakeMessage()

    backend = WeChatTemplateNotifier(client=FakeClient())
    assert backend.send([with_openid, without], "低库存", "请补货", kind="low_stock") == 1
    assert sent == [("openid-123", "TPL", "低库存", "请补货")]


def test_wechat_backend_refuses_to_start_half_configured(settings):
    settings.WECHAT_APP_ID, settings.WECHAT_NOTIFY_TEMPLATE_ID = "wx1", ""
    with pytest.raises(RuntimeError):
        WeChatTemplateNotifier()


def test_sms_backend_uses_core_sms(settings):
    from core import sms

    settings.SMS_BACKEND = "locmem"
    settings.SMS_TEMPLATES = {**settings.SMS_TEMPLATES, "staff_notice": {"code": "SMS_1", "text": "{subject}：{body}"}}
    sms.outbox.clear()
    with_phone = make_staff()
    with_phone.phone = "+8613800138000"
    with_phone.save()
    assert SmsNotifier().send([with_phone, make_staff()], "低库存", "请补货", kind="low_stock") == 1
    assert [(m.phone, m.text) for m in sms.outbox] == [("+8613800138000", "低库存：请补货")]
    sms.outbox.clear()


def test_default_backends_setting():
    assert notify_module.DEFAULT_BACKENDS == ["core.notify.LogNotifier"]
