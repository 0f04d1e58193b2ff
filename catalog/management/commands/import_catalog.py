"""Import products or SKUs from a CSV/XLSX file: all rows or none, with progress and row errors.

    manage.py import_catalog products.csv --kind products
    manage.py import_catalog skus.csv --kind skus [--dry-run]
Columns are described in catalog/resources.py. Exit status 1 when the file has errors.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from catalog.resources import ProductResource, SkuResource, import_catalog_file

RESOURCES = {"products": ProductResource, "skus": SkuResource}


class Command(BaseCommand):
    help = "Import catalogue products or SKUs from CSV/XLSX (all rows or none)."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--kind", choices=sorted(RESOURCES), required=True)
        parser.add_argument("--dry-run", action="store_true", help="check the file, save nothing")

    def handle(self, path, kind, dry_run=False, **options):
        file = Path(path)
        if not file.exists():
            raise CommandError(f"no such file: {path}")
        file_format = "xlsx" if file.suffix.lower() == ".xlsx" else "csv"
        data = file.read_bytes() if file_format == "xlsx" else file.read_text(encoding="utf-8-sig")

        def progress(done, total):
            if done == total or done % 100 == 0:
                self.stdout.write(f"  {done}/{total} rows checked")

        report = import_catalog_file(RESOURCES[kind], data, file_format=file_format, dry_run=dry_run, progress=progress)
        if report.errors:
            for row, message in report.errors:
                self.stderr.write(f"  row {row}: {message}" if row else f"  {message}")
            raise CommandError(f"{len(report.errors)} error(s) in {file.name}: nothing was imported.")
        verb = "would import" if dry_run else "imported"
        self.stdout.write(self.style.SUCCESS(
            f"{file.name}: {verb} {report.total_rows} rows ({report.new} new, {report.updated} updated, "
            f"{report.skipped} unchanged)."
        ))
