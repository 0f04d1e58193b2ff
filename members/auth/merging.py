"""A WeChat login that turns out to belong to an existing phone account.

Someone who registered by phone (H5, another device) and later opens the shop inside WeChat gets a
fresh WeChat-only account; when they bind their phone, the SMS code proves they own the phone
account too. Then the WeChat identity moves to the phone account, the empty WeChat-only account is
deactivated (never deleted: nothing that points to it is lost), and `accounts_merged` lets other apps
move what they keep per user (a cart, for instance) inside the same transaction.
"""

from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.db import transaction
from django.dispatch import Signal
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError

# sent with from_user (the deactivated WeChat-only account) and to_user (the phone account)
accounts_merged = Signal()


class MergeError(DomainError):
    code = "merge_refused"


def is_wechat_only(user) -> bool:
    """Signed up through WeChat and nothing else: no verified phone, no password, not staff."""
    return (
        not user.is_staff
        and not (user.phone and user.phone_verified)
        and not user.has_usable_password()
        and SocialAccount.objects.filter(user=user, provider="weixin").exists()
    )


@transaction.atomic
def merge_wechat_account_into(wechat_user, owner):
    """Move `wechat_user`'s WeChat identity to `owner` and deactivate `wechat_user`.

    Guarantees: both users are locked (primary-key order) for the change; refused, with nothing
    changed, when `owner` already has a WeChat identity, is staff or inactive, or `wechat_user` is
    not WeChat-only. The caller must have proven ownership of `owner`'s phone (SMS code).
    """
    User = get_user_model()
    locked = {u.pk: u for u in User.objects.select_for_update().filter(pk__in=[wechat_user.pk, owner.pk]).order_by("pk")}
    wechat_user, owner = locked[wechat_user.pk], locked[owner.pk]
    if not is_wechat_only(wechat_user) or owner.is_staff or not owner.is_active:
        raise MergeError(_("该手机号已绑定其他账号"), code="phone_taken")
    if SocialAccount.objects.filter(user=owner, provider="weixin").exists():
        raise MergeError(_("该手机号已绑定其他微信账号"), code="wechat_taken")
    SocialAccount.objects.filter(user=wechat_user).update(user=owner)
    if not owner.nickname and wechat_user.nickname:
        owner.nickname = wechat_user.nickname
        owner.save(update_fields=["nickname"])
    wechat_user.is_active = False
    wechat_user.save(update_fields=["is_active"])
    accounts_merged.send(sender=User, from_user=wechat_user, to_user=owner)
    return owner
