"""HQ's default express fee rule, so that express delivery works on a new shop: ¥10, free over ¥99,
every province served. HQ edits it in the admin (快递运费规则)."""

from decimal import Decimal

from django.db import migrations


def create(apps, schema_editor):
    Rule = apps.get_model("orders", "ExpressFeeRule")
    if not Rule.objects.filter(store__isnull=True).exists():
        Rule.objects.create(store=None, base_fee=Decimal("10.00"), free_over=Decimal("99.00"))


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
