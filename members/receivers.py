"""Every User gets a Member profile the moment it is created (shopper, promoter or staff), and
what a merged-away account kept moves to the account it was merged into."""

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from .auth.merging import accounts_merged


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="members.create_member_profile")
def create_member_profile(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        from .services import ensure_member

        ensure_member(instance, source=getattr(instance, "registration_source", None))


@receiver(accounts_merged, dispatch_uid="members.move_member_data_on_merge")
def move_member_data(sender, from_user, to_user, **kwargs):
    from .services import merge_member_into

    merge_member_into(from_user, to_user)
