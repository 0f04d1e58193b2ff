"""Ask the gateways again about refunds that wait for a retry or are still processing. The same
service as the beat task orders.tasks.retry_refunds (every 5 minutes); a gateway refunds one
out_refund_no once, so running it again refunds nothing twice."""

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from orders.models import Refund
from orders.payments.services import retry_refunds


def _open_refunds():
    return Refund.objects.filter(state__in=[Refund.State.PENDING, Refund.State.PROCESSING]).count()


class Command(BaseCommand):
    help = "Retry refunds that are pending or processing at their gateway (what the worker does every 5 minutes)."

    def handle(self, *args, **options):
        asked = retry_refunds()
        self.stdout.write(
            _("已重新处理 %(n)s 笔退款；仍在等待或处理中的退款 %(left)s 笔") % {"n": asked, "left": _open_refunds()}
        )
