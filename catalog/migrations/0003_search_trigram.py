"""Trigram indexes for product search on PostgreSQL (a no-op on SQLite).

pg_trgm GIN indexes make `ILIKE '%word%'` over name, subtitle and tags use an index, and power
`trigram_word_similar` near matches. Creating the extension needs a role allowed to (the default
postgres role here; in production, or create it once by hand: CREATE EXTENSION pg_trgm).
"""

from django.db import migrations

INDEXES = [
    ("catalog_product_name_trgm", "name"),
    ("catalog_product_subtitle_trgm", "subtitle"),
    ("catalog_product_tags_trgm", "tags"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON catalog_product USING gin ({column} gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_alter_category_icon_alter_productimage_image")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
