"""Consent to the 用户协议 and 隐私政策 before any code is texted or any WeChat authorisation.

The login page shows a checkbox; the versions agreed to and the time are kept in the session
(`remember_consent`) until a login happens, then written as members.Consent rows for that user
(`record_pending_consent`, on Django's user_logged_in, so the phone and the WeChat paths share it).
"""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.utils import timezone
from django.utils.dateparse import parse_datetime

SESSION_KEY = "pending_consent"


def current_documents():
    """{kind: LegalDocument} with the newest version of each kind (one query)."""
    from ..models import LegalDocument

    newest = {}
    for doc in LegalDocument.objects.only("kind", "version", "title").order_by("-version"):
        newest.setdefault(doc.kind, doc)
    return newest


def remember_consent(request, channel: str) -> None:
    versions = {kind: doc.version for kind, doc in current_documents().items()}
    request.session[SESSION_KEY] = {
        "at": timezone.now().isoformat(),
        "versions": versions,
        "channel": channel,
    }


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

    agreed_at = parse_datetime(pending.get("at") or "") or timezone.now()
    ip = _client_ip(request)
    Consent.objects.bulk_create(
        [
            Consent(user=user, kind=kind, version=version, agreed_at=agreed_at, channel=pending.get("channel", ""), ip=ip)
            for kind, version in sorted((pending.get("versions") or {}).items())
        ]
    )
