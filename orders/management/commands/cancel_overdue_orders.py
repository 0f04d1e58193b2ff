"""Cancel every unpaid order past its pay deadline: stock, coupon and points come back. The same
service as the beat task orders.tasks.cancel_overdue_orders (every minute); safe to run again."""

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from orders.services import cancel_overdue_orders


class Command(BaseCommand):
    help = "Cancel unpaid orders past their pay deadline (what the worker does every minute)."

    def handle(self, *args, **options):
        cancelled = cancel_overdue_orders()
        self.stdout.write(_("已取消 %(n)s 个超时未付款的订单") % {"n": cancelled})
