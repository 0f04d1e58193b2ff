"""Ask the gateways about payment attempts still pending (a lost notification), confirming what
was paid. The same service as the beat task orders.tasks.query_pending_payments; safe to run again."""

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from orders.payments.services import query_pending_payments


class Command(BaseCommand):
    help = "Query the gateways about pending payments (what the worker does every minute)."

    def handle(self, *args, **options):
        result = query_pending_payments()
        self.stdout.write(_("查询 %(asked)s 个待支付单：%(paid)s 个已支付，%(closed)s 个过期关闭") % result)
