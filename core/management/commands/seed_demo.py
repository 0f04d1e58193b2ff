"""Load the demo data of every app, idempotently.

Each entry of settings.DEMO_SEEDERS is a function `seed(out) -> int` that creates what is missing
and returns how many rows it created or changed; `out` is a callable that prints a line. A second
run creates nothing and says so.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.module_loading import import_string


class Command(BaseCommand):
    help = "Load demo data (stores, catalogue, members, accounts). Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Run even with DEBUG off (it creates accounts with published demo passwords).",
        )

    def handle(self, *args, allow_production=False, **options):
        if not settings.DEBUG and not allow_production:
            raise CommandError(
                "seed_demo creates accounts with published passwords; it runs only with DEBUG=1 "
                "or --allow-production."
            )
        total = 0
        for dotted in settings.DEMO_SEEDERS:
            seeder = import_string(dotted)
            with transaction.atomic():
                changed = seeder(self.stdout.write)
            self.stdout.write(f"  {dotted}: {changed} created or changed")
            total += changed
        if total:
            self.stdout.write(self.style.SUCCESS(f"Demo data loaded: {total} rows created or changed."))
        else:
            self.stdout.write(self.style.SUCCESS("Demo data already present: nothing changed."))
