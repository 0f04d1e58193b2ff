"""Close at their gateways the payment attempts we no longer want paid (order cancelled, price
changed). The same service as the beat task orders.tasks.close_payment_attempts; safe to run again."""

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from orders.payments.services import close_payment_attempts


class Command(BaseCommand):
    help = "Close payment attempts of cancelled or re-priced orders at their gateway (what the worker does every 5 minutes)."

    def handle(self, *args, **options):
        closed = close_payment_attempts()
        self.stdout.write(_("已关闭 %(n)s 个不再需要的支付单") % {"n": closed})
