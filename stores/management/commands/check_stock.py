"""Verify the stock ledger: every row's on_hand equals the sum of its movements' quantities, its
reserved equals the sum of their reserved deltas and the sum of what its reservations still hold.
Exits 1 and lists the rows that differ."""

from django.core.management.base import BaseCommand, CommandError

from stores.services import ledger_mismatches


class Command(BaseCommand):
    help = "Check that every stock row equals the sum of its ledger and of its reservations (exit code 1 when not)."

    def handle(self, *args, **options):
        bad = ledger_mismatches()
        if not bad:
            from stores.models import Stock

            self.stdout.write(self.style.SUCCESS(f"Stock ledger OK: {Stock.objects.count()} rows checked."))
            return
        for stock, ledger_on_hand, ledger_reserved, held in bad:
            self.stderr.write(
                f"stock #{stock.pk} store={stock.store.code} sku={stock.sku.code}: "
                f"on_hand={stock.on_hand} ledger={ledger_on_hand}; reserved={stock.reserved} ledger={ledger_reserved} "
                f"reservations_held={held}"
            )
        raise CommandError(f"{len(bad)} stock row(s) differ from their ledger or reservations")
