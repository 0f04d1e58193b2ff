"""Check every order against its lines, its payment log and the stock it holds (orders.checks).
Prints each problem and exits 1 when there is any; prints 所有订单核对无误 and exits 0 otherwise."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from orders.checks import check_orders
from orders.models import Order


class Command(BaseCommand):
    help = "Check that every order's lines, payments, refunds and stock holds agree (exit code 1 when not)."

    def handle(self, *args, **options):
        problems = check_orders()
        if not problems:
            self.stdout.write(self.style.SUCCESS(
                _("所有订单核对无误（%(n)s 个订单）") % {"n": Order.objects.count()}
            ))
            return
        for problem in problems:
            self.stdout.write(str(problem))
        raise CommandError(_("发现 %(n)s 个问题") % {"n": len(problems)})
