"""Messages to people (staff alerts, service notices): one call, several pluggable backends.

    notify(user_or_users, subject, body, *, kind="...")

sends through every backend listed in settings.NOTIFIER_BACKENDS (dotted class paths; default
``["core.notify.LogNotifier"]``, which only logs). A backend failing is logged and does not stop
the others or the caller: a notice is never worth a failed business operation.

Backends here:
- ``LogNotifier``: writes one log line per recipient (the embedded default).
- ``WeChatTemplateNotifier``: a WeChat template message (wechatpy ``client.message.send_template``)
  to each recipient's openid from allauth's ``weixin`` SocialAccount. Needs WECHAT_APP_ID,
  WECHAT_APP_SECRET and WECHAT_NOTIFY_TEMPLATE_ID; the template should have keyword fields
  ``first``, ``keyword1`` (subject), ``keyword2`` (time) and ``remark`` (body).
- ``SmsNotifier``: ``core.sms.send_sms(phone, template, {"subject", "body"})`` to each recipient's
  phone, with the SMS template named by settings.NOTIFIER_SMS_TEMPLATE (default "staff_notice",
  which must be in settings.SMS_TEMPLATES); core.sms is imported lazily.
"""

import logging

from django.apps import apps
from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger("core.notify")

DEFAULT_BACKENDS = ["core.notify.LogNotifier"]


def _as_list(user_or_users):
    if user_or_users is None:
        return []
    if isinstance(user_or_users, list | tuple | set):
        return list(user_or_users)
    if hasattr(user_or_users, "_meta"):
        return [user_or_users]
    return list(user_or_users)  # a queryset


def get_backends():
    return [import_string(path)() for path in getattr(settings, "NOTIFIER_BACKENDS", DEFAULT_BACKENDS)]


def notify(user_or_users, subject, body, *, kind):
    """Send to every configured backend; returns {backend class name: number sent}."""
    users = _as_list(user_or_users)
    results = {}
    if not users:
        return results
    for backend in get_backends():
        name = type(backend).__name__
        try:
            results[name] = backend.send(users, str(subject), str(body), kind=kind)
        except Exception:  # one broken channel must not break the others or the caller
            logger.exception("notifier %s failed for kind=%s", name, kind)
            results[name] = 0
    return results


class BaseNotifier:
    def send(self, users, subject, body, *, kind):  # pragma: no cover - interface
        raise NotImplementedError


class LogNotifier(BaseNotifier):
    def send(self, users, subject, body, *, kind):
        for user in users:
            logger.info("notify kind=%s user=%s subject=%s body=%s", kind, user.pk, subject, body)
        return len(users)


class WeChatTemplateNotifier(BaseNotifier):
    def __init__(self, client=None):
        self.app_id = settings.WECHAT_APP_ID
        self.template_id = getattr(settings, "WECHAT_NOTIFY_TEMPLATE_ID", "")
        if not (self.app_id and settings.WECHAT_APP_SECRET and self.template_id):
            raise RuntimeError("WeChatTemplateNotifier needs WECHAT_APP_ID, WECHAT_APP_SECRET, WECHAT_NOTIFY_TEMPLATE_ID")
        self._client = client

    @property
    def client(self):
        if self._client is None:
            from core.wechat import get_client

            self._client = get_client()
        return self._client

    def openids(self, users):
        SocialAccount = apps.get_model("socialaccount", "SocialAccount")
        rows = SocialAccount.objects.filter(provider="weixin", user__in=[u.pk for u in users])
        return dict(rows.values_list("user_id", "uid"))

    def send(self, users, subject, body, *, kind):
        sent = 0
        now = timezone.localtime().strftime("%Y-%m-%d %H:%M")
        data = {
            "first": {"value": subject},
            "keyword1": {"value": subject},
            "keyword2": {"value": now},
            "remark": {"value": body},
        }
        for user_id, openid in self.openids(users).items():
            try:
                self.client.message.send_template(openid, self.template_id, data)
                sent += 1
            except Exception:
                logger.exception("wechat template message to user %s failed", user_id)
        return sent


class SmsNotifier(BaseNotifier):
    def send(self, users, subject, body, *, kind):
        from core.sms import send_sms  # owned by the members work; imported only when used

        template = getattr(settings, "NOTIFIER_SMS_TEMPLATE", "staff_notice")
        sent = 0
        for user in users:
            phone = getattr(user, "phone", None)
            if not phone:
                continue
            try:
                send_sms(phone, template, {"subject": subject, "body": body})
                sent += 1
            except Exception:
                logger.exception("sms notice to user %s failed", user.pk)
        return sent
