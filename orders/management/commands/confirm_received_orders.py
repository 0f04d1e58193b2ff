"""Confirm receipt of shipped and out-for-delivery orders whose auto-confirm time has passed
(ORDER_AUTO_CONFIRM_DAYS after shipping): they complete and earn their points. The same service as
the beat task orders.tasks.confirm_overdue_receipts (hourly); safe to run again."""

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from orders.services import confirm_overdue_receipts


class Command(BaseCommand):
    help = "Complete shipped orders whose automatic confirmation time has passed (what the worker does hourly)."

    def handle(self, *args, **options):
        confirmed = confirm_overdue_receipts()
        self.stdout.write(_("已自动确认收货 %(n)s 个订单") % {"n": confirmed})
