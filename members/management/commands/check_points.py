"""Verify that every member's points balance equals the sum of their ledger.

Exit status 0 when all match; otherwise lists the mismatched members and exits non-zero.
"""

from django.core.management.base import BaseCommand, CommandError

from members.selectors import points_mismatches


class Command(BaseCommand):
    help = "Check points balance == sum(points ledger) for every member; non-zero exit on mismatch."

    def handle(self, *args, **options):
        mismatches = points_mismatches()
        if not mismatches:
            self.stdout.write(self.style.SUCCESS("Points balances match their ledgers."))
            return
        for member_id, balance, ledger in mismatches:
            self.stderr.write(f"member {member_id}: balance {balance} != ledger sum {ledger}")
        raise CommandError(f"{len(mismatches)} member(s) with a points balance that differs from the ledger")
