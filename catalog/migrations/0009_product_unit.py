"""A product's unit (单位), and two indexes for the stores' product picker on PostgreSQL (a no-op
on SQLite): SKU barcode equality, and UPPER(code) for case-insensitive code prefixes (Django's
istartswith/iexact compile to UPPER(code::text) LIKE/=, which the unique index on code cannot
serve; text_pattern_ops lets LIKE 'X%' use it whatever the database's collation)."""

from django.db import migrations, models

INDEXES = [
    ("catalog_sku_barcode_eq", "catalog_sku (barcode)"),
    ("catalog_sku_code_upper_prefix", "catalog_sku (UPPER(code::text) text_pattern_ops)"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, target in INDEXES:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _target in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0008_home_featured_hot_words_category_icon_name'),
    ]

    operations = [
        migrations.AddField(
            model_name='product',
            name='unit',
            field=models.CharField(default='件', help_text='计量单位，如 件、盒、瓶、千克', max_length=8, verbose_name='单位'),
        ),
        migrations.RunPython(create, drop, elidable=False),
    ]
