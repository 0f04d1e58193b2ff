"""Every User gets a Member profile the moment it is created (shopper, promoter or staff)."""

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="members.create_member_profile")
def create_member_profile(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        from .services import ensure_member

        ensure_member(instance, source=getattr(instance, "registration_source", None))
