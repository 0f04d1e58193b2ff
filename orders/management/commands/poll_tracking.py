"""Ask the tracking provider (settings.ORDER_TRACKING_PROVIDER) about the parcels that are due and
store their new route lines. The same service as the beat task orders.tasks.poll_tracking; running
it again stores nothing twice (and asks again only about parcels not asked recently). Exits 1 when
the provider is chosen but not configured, or refuses our credentials."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from orders.tracking import poll_due_shipments


class Command(BaseCommand):
    help = "Poll the parcel tracking provider for shipped orders (what the worker does every 2 hours)."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=None, help="At most this many parcels (default: the setting).")

    def handle(self, *args, limit=None, **options):
        if limit is not None and limit < 1:
            raise CommandError(_("--limit 必须是正整数"))
        summary = poll_due_shipments(limit=limit)
        if not summary.polls:
            self.stdout.write(_("物流为手工录入（%(p)s）：没有需要查询的快递接口") % {"p": summary.provider})
            return
        self.stdout.write(
            _("物流查询（%(p)s）：待查询 %(due)s 个包裹，已查询 %(polled)s 个，新增轨迹 %(new)s 条，失败 %(failed)s 个")
            % {"p": summary.provider, "due": summary.due, "polled": summary.polled, "new": summary.new_events,
               "failed": summary.failed}
        )
        if summary.stopped:
            raise CommandError(_("查询已停止：%(why)s") % {"why": summary.stopped})
