"""Consent to the 用户协议 and 隐私政策 before any code is texted or any WeChat authorisation.

The login page shows a checkbox; the versions agreed to and the time are kept in the session
(`remember_consent`) until a login happens, then written as members.Consent rows for that user
(`record_pending_consent`, on Django's user_logged_in, so the phone and the WeChat paths share it).

The consent belongs to the login it was given for, and only to it: a staff login in the same browser
records nothing (staff are not shoppers), the phone path records it only for the number the code
went to, and a consent left waiting longer than PENDING_MINUTES is dropped unrecorded (the shopper
ticks the box again on the next try).
"""

from datetime import timedelta

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.utils import timezone
from django.utils.dateparse import parse_datetime

SESSION_KEY = "pending_consent"
PENDING_MINUTES = 30

# the texts of version 1 (also seeded by migration members 0007): HQ replaces them in the admin
DEFAULT_BODIES = {
    "terms": (
        "欢迎使用本商城。注册或登录即表示您同意本协议。\n\n"
        "一、账号：您以手机号验证码或微信授权登录；未注册的手机号验证后自动注册。请妥善保管您的手机和微信账号。\n\n"
        "二、订单与支付：商品价格、库存以门店实际为准；您在下单页看到的金额即为应付金额。\n\n"
        "三、积分与优惠券：积分、优惠券的获取与使用以会员中心公示的规则为准。\n\n"
        "四、其他：总部可在后台更新本协议；更新后再次登录时需重新同意。"
    ),
    "privacy": (
        "我们重视您的个人信息保护。\n\n"
        "一、收集的信息：手机号（登录与订单通知）、微信 openid 与昵称（微信登录与支付）、收货地址（配送）、订单记录。\n\n"
        "二、使用目的：仅用于账号登录、订单履约、售后与会员服务，不会出售给任何第三方。\n\n"
        "三、短信：验证码短信通过短信服务商发送。\n\n"
        "四、您的权利：您可以在会员中心查看和修改个人资料，或联系门店注销账号。\n\n"
        "总部可在后台更新本政策；更新后再次登录时需重新同意。"
    ),
}


def current_documents():
    """{kind: LegalDocument} with the newest version of each kind (one query).

    A kind with no row at all (an emptied table) gets version 1 of the default text, so the login
    page never links to a missing page nor records consent to nothing.
    """
    from ..models import LegalDocument

    newest = {}
    for doc in LegalDocument.objects.only("kind", "version", "title").order_by("-version"):
        newest.setdefault(doc.kind, doc)
    for kind, label in LegalDocument.Kind.choices:
        if kind not in newest:
            newest[kind], _created = LegalDocument.objects.get_or_create(
                kind=kind, version=1, defaults={"title": str(label), "body": DEFAULT_BODIES[kind]}
            )
    return newest


def remember_consent(request, channel: str, phone: str = "") -> None:
    """Keep the consent just given until the login it was given for (`phone`: the number the code
    goes to, on the phone path)."""
    versions = {kind: doc.version for kind, doc in current_documents().items()}
    request.session[SESSION_KEY] = {
        "at": timezone.now().isoformat(),
        "versions": versions,
        "channel": channel,
        "phone": phone or "",
    }


def _belongs_to(pending, user, agreed_at) -> bool:
    if user.is_staff or agreed_at is None:
        return False
    if timezone.now() - agreed_at > timedelta(minutes=PENDING_MINUTES):
        return False
    if pending.get("channel") == "phone":
        return bool(pending.get("phone")) and pending.get("phone") == user.phone
    return True


def _client_ip(request):
    from allauth.account.adapter import get_adapter

    try:
        return get_adapter().get_client_ip(request)
    except Exception:  # a malformed or missing address is not worth refusing a login
        return None


@receiver(user_logged_in, dispatch_uid="members.record_pending_consent")
def record_pending_consent(sender, request, user, **kwargs):
    if request is None or not hasattr(request, "session"):
        return
    pending = request.session.pop(SESSION_KEY, None)
    if not pending:
        return
    from ..models import Consent

    agreed_at = parse_datetime(pending.get("at") or "")
    if not _belongs_to(pending, user, agreed_at):
        return
    ip = _client_ip(request)
    Consent.objects.bulk_create(
        [
            Consent(user=user, kind=kind, version=version, agreed_at=agreed_at, channel=pending.get("channel", ""), ip=ip)
            for kind, version in sorted((pending.get("versions") or {}).items())
        ]
    )
