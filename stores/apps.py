from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def ensure_hq_group(sender, using="default", plan=None, **kwargs):
    """The Django group "总部" (HQ): every permission of the stores app, including the one that
    lifts store scoping (stores.scope), and those of every stores model added by a later release.
    Other apps may add theirs to the same group."""
    from django.contrib.auth.models import Group, Permission

    from core.permissions import grant_new_model_permissions

    from .scope import HQ_GROUP_NAME, HQ_PERMISSION

    app_label, codename = HQ_PERMISSION.split(".")
    permission = Permission.objects.using(using).filter(content_type__app_label=app_label, codename=codename).first()
    if permission is None:
        return
    group, created = Group.objects.using(using).get_or_create(name=HQ_GROUP_NAME)
    if created:
        group.permissions.add(*Permission.objects.using(using).filter(content_type__app_label=app_label))
    else:
        group.permissions.add(permission)
        grant_new_model_permissions(group, app_label, plan, using)


def stores_changed(sender=None, **kwargs):
    """A store changed (saved, deleted, or updated in bulk by a caller that sends no signal)."""
    from catalog import pagecache

    pagecache.bump(pagecache.STORES_DEP)


class StoresConfig(AppConfig):
    name = "stores"
    verbose_name = _("门店")

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from core.permissions import permissions_changed

        from .models import Store, StorePhoto, StoreStaff
        from .photos import cover_saved, photo_deleted, photo_saved

        post_migrate.connect(ensure_hq_group, sender=self, dispatch_uid="stores.ensure_hq_group")
        # what a staff member may see follows their store assignments: cached permission sets go
        for signal in (post_save, post_delete):
            signal.connect(permissions_changed, sender=StoreStaff,
                           dispatch_uid=f"stores.staff_permissions.{signal is post_save}")
        # shop pages kept for visitors show stores (the chosen one, those nearby): rebuilt on any change
        for signal in (post_save, post_delete):
            signal.connect(stores_changed, sender=Store, dispatch_uid=f"stores.pages.{signal is post_save}")
        post_delete.connect(photo_deleted, sender=StorePhoto, dispatch_uid="stores.photo_deleted")
        # thumbnails made by the worker after commit, however a photo or a cover was saved
        post_save.connect(photo_saved, sender=StorePhoto, dispatch_uid="stores.photo_saved")
        post_save.connect(cover_saved, sender=Store, dispatch_uid="stores.cover_saved")
