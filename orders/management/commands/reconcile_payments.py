"""Reconcile one local day with the gateways' bills (the same service as the beat task
orders.tasks.reconcile_payments): prints each bill's totals per channel and every difference, and
records the run like the beat does (a re-run replaces the day's differences).

Exit status: 0 every bill compared and agrees; 1 differences to look at; 2 a bill could not be
compared (not available yet, a gateway error) or no gateway is configured for reconciliation.
"""

import re
from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from core.money import fen_to_yuan
from orders.models import PaymentAttempt, ReconciliationDifference, ReconciliationRun
from orders.payments.reconcile import SHANGHAI, ReconcileError, reconcile_day

DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_day(raw, today):
    """A day that is over, spelt YYYY-MM-DD in ASCII digits; CommandError otherwise."""
    text = str(raw).strip()
    try:
        if not DATE.fullmatch(text):
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(_("日期格式应为 YYYY-MM-DD，例如 %(example)s：%(raw)r")
                           % {"example": (today - timedelta(days=1)).isoformat(), "raw": text}) from exc
    if day >= today:
        raise CommandError(_("只能对账今天以前的日期（今天是 %(today)s）") % {"today": today.isoformat()})
    return day


def yuan(fen):
    return f"¥{fen_to_yuan(fen)}"


class Command(BaseCommand):
    help = ("Reconcile one day's payments and refunds with the WeChat Pay and Alipay bills (default: yesterday). "
            "Exit 1 when there are differences, 2 when a bill could not be compared.")

    def add_arguments(self, parser):
        parser.add_argument("--date", dest="day", help="YYYY-MM-DD, a local day (Asia/Shanghai) before today")
        parser.add_argument("--channel", dest="channels", action="append",
                            help="only the bill serving this channel (repeatable), e.g. alipay_wap")

    def handle(self, *args, day=None, channels=None, **options):
        today = timezone.now().astimezone(SHANGHAI).date()
        day = parse_day(day, today) if day is not None else today - timedelta(days=1)
        try:
            run = reconcile_day(day, channels=channels, trigger=ReconciliationRun.Trigger.COMMAND)
        except ReconcileError as exc:
            raise CommandError(str(exc)) from exc
        self.report(run)
        if run.status == ReconciliationRun.Status.NO_GATEWAY:
            raise CommandError(_("没有配置可对账的支付渠道（开发用模拟支付不对账）"), returncode=2)
        if run.differences:
            raise CommandError(_("%(day)s 有 %(n)s 处差异") % {"day": day.isoformat(), "n": run.differences})
        unfinished = [s for s in run.bills.values() if s["status"] in (run.Status.NOT_YET, run.Status.FAILED)]
        if unfinished:
            raise CommandError(_("%(n)s 份账单未能对账") % {"n": len(unfinished)}, returncode=2)
        self.stdout.write(self.style.SUCCESS(_("%(day)s 对账无差异") % {"day": day.isoformat()}))

    def report(self, run):
        write = self.stdout.write
        labels = dict(PaymentAttempt.Channel.choices)
        write(_("对账日期 %(day)s") % {"day": run.day.isoformat()})
        differences = ReconciliationDifference.objects.filter(run=run).order_by("bill", "kind", "id")
        by_bill = {}
        for d in differences:
            by_bill.setdefault(d.bill, []).append(d)
        for key, section in run.bills.items():
            write("")
            write(f"[{section['label']}] {ReconciliationRun.Status(section['status']).label}"
                  + (f" — {section['error']}" if section.get("error") else ""))
            for channel, totals in section.get("totals", {}).items():
                ours, theirs = totals["ours"], totals["theirs"]
                write("  " + _("%(channel)s  支付 我方 %(op)s 笔 %(oa)s / 平台 %(tp)s 笔 %(ta)s；"
                               "退款 我方 %(orf)s 笔 %(ora)s / 平台 %(trf)s 笔 %(tra)s") % {
                    "channel": labels.get(channel, channel),
                    "op": ours["payments"][0], "oa": yuan(ours["payments"][1]),
                    "tp": theirs["payments"][0], "ta": yuan(theirs["payments"][1]),
                    "orf": ours["refunds"][0], "ora": yuan(ours["refunds"][1]),
                    "trf": theirs["refunds"][0], "tra": yuan(theirs["refunds"][1]),
                })
            if section.get("not_ours"):
                other = section["not_ours_totals"]
                write("  " + _("非本系统交易 %(n)s 笔（支付 %(pa)s，退款 %(ra)s），无需处理") % {
                    "n": section["not_ours"], "pa": yuan(other["payments"][1]), "ra": yuan(other["refunds"][1])})
            for d in by_bill.get(key, []):
                if d.kind == ReconciliationDifference.Kind.NOT_OURS:
                    continue
                write("  " + _("%(kind)s %(row)s %(no)s 我方 %(ours)s 平台 %(theirs)s %(note)s") % {
                    "kind": d.get_kind_display(), "row": d.get_row_kind_display(),
                    "no": d.out_refund_no or d.out_trade_no,
                    "ours": yuan(d.ours_fen) if d.ours_fen is not None else "-",
                    "theirs": yuan(d.theirs_fen) if d.theirs_fen is not None else "-",
                    "note": d.note,
                })
            if section["status"] == ReconciliationRun.Status.CLEAN:
                write("  " + _("无差异"))
