from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def grant_hq_orders_permissions(sender, using="default", plan=None, **kwargs):
    """HQ (the "总部" group, stores.scope) gets every orders permission the first time orders'
    permissions exist, and those of every orders model added by a later release; a permission HQ
    later takes away from the group stays away."""
    from django.contrib.auth.models import Group, Permission

    from core.permissions import grant_new_model_permissions
    from stores.scope import HQ_GROUP_NAME

    permissions = Permission.objects.using(using).filter(content_type__app_label="orders")
    if not permissions.exists():
        return
    group, _created = Group.objects.using(using).get_or_create(name=HQ_GROUP_NAME)
    if not group.permissions.filter(content_type__app_label="orders").exists():
        group.permissions.add(*permissions)
    else:
        grant_new_model_permissions(group, "orders", plan, using)


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("订单")

    def ready(self):
        from . import (
            receivers,  # noqa: F401
            store_rules,  # noqa: F401  (its receivers: a store's hours or an express rule saved or deleted)
        )
        from .payments import (
            alipay_checks,  # noqa: F401  (registers Alipay's configuration checks)
            wechat_checks,  # noqa: F401  (registers WeChat Pay's configuration checks)
        )

        post_migrate.connect(grant_hq_orders_permissions, sender=self, dispatch_uid="orders.grant_hq_permissions")
