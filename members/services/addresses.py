"""Shipping addresses: at most MAX_ADDRESSES per user, exactly one default once there is one."""

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from ..models import Address
from .base import AddressLimitReached, MembersError

MAX_ADDRESSES = 20


@transaction.atomic
def save_address(user, address, *, make_default=False):
    """Create or update one of the user's addresses; the first one, or make_default, becomes default.

    One default per user is also a database constraint; the others are unset in the same
    transaction, after locking the user's address rows. The optional coordinates (for same-city
    delivery) are saved as given; the model's constraints keep them a valid pair.
    """
    if address.pk is None:
        address.user = user
        if Address.objects.filter(user=user).count() >= MAX_ADDRESSES:
            raise AddressLimitReached(_("最多保存 %(n)s 个收货地址"), params={"n": MAX_ADDRESSES})
    elif address.user_id != user.pk:
        raise MembersError(_("地址不存在"), code="not_found")
    list(Address.objects.select_for_update().filter(user=user).values_list("pk", flat=True))
    has_default = Address.objects.filter(user=user, is_default=True).exclude(pk=address.pk).exists()
    want_default = make_default or not has_default
    if want_default:
        Address.objects.filter(user=user, is_default=True).exclude(pk=address.pk).update(is_default=False)
    address.is_default = want_default or (address.is_default and not has_default)
    address.save()
    return address


@transaction.atomic
def set_default_address(user, address_id):
    """Make one of the user's addresses the default (404-style MembersError for another user's)."""
    address = Address.objects.select_for_update().filter(user=user, pk=address_id).first()
    if address is None:
        raise MembersError(_("地址不存在"), code="not_found")
    Address.objects.filter(user=user, is_default=True).exclude(pk=address.pk).update(is_default=False)
    if not address.is_default:
        address.is_default = True
        address.save(update_fields=["is_default", "updated_at"])
    return address


@transaction.atomic
def delete_address(user, address_id):
    """Delete one of the user's addresses; when it was the default, the newest other one becomes default."""
    address = Address.objects.select_for_update().filter(user=user, pk=address_id).first()
    if address is None:
        raise MembersError(_("地址不存在"), code="not_found")
    was_default = address.is_default
    address.delete()
    if was_default:
        successor = Address.objects.filter(user=user).order_by("-updated_at", "-id").first()
        if successor:
            successor.is_default = True
            successor.save(update_fields=["is_default", "updated_at"])
