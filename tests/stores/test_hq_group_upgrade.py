"""An HQ group made by an earlier release gets the permissions of models added since, once, when
the migration that creates them runs; permissions the merchant took away stay away."""

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.db.migrations.loader import MigrationLoader

from orders.apps import grant_hq_orders_permissions
from stores.apps import ensure_hq_group
from stores.scope import HQ_GROUP_NAME

pytestmark = pytest.mark.django_db


def _migration(app_label, prefix):
    loader = MigrationLoader(None, ignore_no_migrations=True)
    (key,) = [key for key in loader.disk_migrations if key[0] == app_label and key[1].startswith(prefix)]
    return loader.disk_migrations[key]


def _codenames(group, app_label):
    return set(group.permissions.filter(content_type__app_label=app_label).values_list("codename", flat=True))


def test_the_photo_gallery_migration_gives_an_existing_hq_group_its_permissions():
    group = Group.objects.get(name=HQ_GROUP_NAME)
    photo_perms = group.permissions.filter(content_type__app_label="stores", content_type__model="storephoto")
    assert photo_perms.count() == 4
    # the group as an earlier release left it: no photo model yet, and the merchant took one stores
    # permission away on purpose
    group.permissions.remove(*photo_perms)
    group.permissions.remove(group.permissions.get(codename="delete_store"))
    before = _codenames(group, "stores")

    config = apps.get_app_config("stores")
    ensure_hq_group(config, plan=[(_migration("stores", "0010"), False)])
    after = _codenames(group, "stores")
    assert after - before == {"add_storephoto", "change_storephoto", "delete_storephoto", "view_storephoto"}
    assert "delete_store" not in after

    # a migrate run that created nothing new (or one rolled back) grants nothing
    group.permissions.remove(*group.permissions.filter(content_type__model="storephoto"))
    ensure_hq_group(config, plan=[(_migration("stores", "0009"), False)])
    ensure_hq_group(config, plan=[(_migration("stores", "0010"), True)])
    ensure_hq_group(config, plan=None)
    assert _codenames(group, "stores") == before


def test_orders_models_added_later_reach_the_hq_group_and_removed_ones_stay_removed():
    group = Group.objects.get(name=HQ_GROUP_NAME)
    initial = _migration("orders", "0001")
    created = {op.name_lower for op in initial.operations if type(op).__name__ == "CreateModel"}
    assert created
    group.permissions.remove(*group.permissions.filter(content_type__app_label="orders",
                                                       content_type__model__in=created))
    kept_away = group.permissions.filter(content_type__app_label="orders").exclude(
        content_type__model__in=created).first()
    if kept_away is not None:
        group.permissions.remove(kept_away)

    grant_hq_orders_permissions(apps.get_app_config("orders"), plan=[(initial, False)])
    models = set(group.permissions.filter(content_type__app_label="orders").values_list("content_type__model", flat=True))
    assert created <= models
    if kept_away is not None:
        assert not group.permissions.filter(pk=kept_away.pk).exists()
