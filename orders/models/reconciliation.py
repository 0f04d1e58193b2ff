"""Daily reconciliation (对账) with the gateways' bills: the state of each local day, the history of
runs, and the differences the latest comparison of each bill found.

- ``ReconciliationDay`` is what a day looks like now, bill by bill (``bills``: one section per bill,
  see orders.payments.reconcile); its row is the lock two runs of one day take in turn, and its
  ``requested_at`` is how staff's 对账 button is held to once a minute (a conditional UPDATE).
- ``ReconciliationRun`` is kept for every run, whatever it found: history, never rewritten.
- ``ReconciliationDifference`` rows belong to the day and bill they describe: a bill that compared
  again replaces its differences of that day (deleted and written in the run's transaction), so a
  re-run never doubles them. A run that could not compare (bill not available yet, gateway error)
  leaves the bill's last result and differences as they were.
Only orders.payments.reconcile writes these rows.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.money import fen_to_yuan

from .order import Order
from .payment import PaymentAttempt


class ReconciliationStatus(models.TextChoices):
    CLEAN = "clean", _("无差异")
    DIFFERENCES = "differences", _("有差异")
    NOT_YET = "not_yet", _("账单未出")
    FAILED = "failed", _("对账失败")
    NO_GATEWAY = "no_gateway", _("无可对账渠道")


class ReconciliationDay(models.Model):
    """One local day (Asia/Shanghai) as the latest comparison of each of its bills left it."""

    Status = ReconciliationStatus

    day = models.DateField(_("日期"), unique=True)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.NOT_YET)
    bills = models.JSONField(_("各账单结果"), default=dict, blank=True)
    differences = models.PositiveIntegerField(_("待处理差异"), default=0)
    not_ours = models.PositiveIntegerField(_("非本系统交易"), default=0)
    requested_at = models.DateTimeField(_("最近手动对账"), null=True, blank=True)
    checked_at = models.DateTimeField(_("最近对账时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("对账日")
        verbose_name_plural = _("对账日")
        ordering = ["-day"]

    def __str__(self):
        return self.day.isoformat()


class ReconciliationRun(models.Model):
    """One reconciliation of one day: which bills it compared, what it found, how it ended."""

    Status = ReconciliationStatus

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("定时任务")
        COMMAND = "command", _("命令行")
        STAFF = "staff", _("后台手动")

    day = models.DateField(_("日期"))
    status = models.CharField(_("结果"), max_length=16, choices=Status.choices)
    trigger = models.CharField(_("发起方式"), max_length=16, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("发起人"),
    )
    bills = models.JSONField(_("各账单结果"), default=dict, blank=True)
    differences = models.PositiveIntegerField(_("待处理差异"), default=0)
    not_ours = models.PositiveIntegerField(_("非本系统交易"), default=0)
    started_at = models.DateTimeField(_("开始时间"))
    finished_at = models.DateTimeField(_("完成时间"))

    class Meta:
        verbose_name = _("对账记录")
        verbose_name_plural = _("对账记录")
        ordering = ["-id"]
        indexes = [models.Index(fields=["day", "-id"], name="reconrun_day_id")]

    def __str__(self):
        return f"{self.day.isoformat()} {self.get_status_display()}"


class ReconciliationDifference(models.Model):
    """A line of a bill and our events that do not agree (or, for NOT_OURS and OTHER_DAY, a line
    worth knowing about that needs no work)."""

    class Kind(models.TextChoices):
        MISSING_HERE = "missing_here", _("我方无记录")  # the gateway has it, we do not
        MISSING_THERE = "missing_there", _("平台无记录")  # we have it, the gateway's bill does not
        AMOUNT_DIFFERS = "amount_differs", _("金额不符")
        OTHER_DAY = "other_day", _("跨日入账")  # both have it, on either side of midnight
        NOT_OURS = "not_ours", _("非本系统交易")  # another app of the same merchant account

    ACTION_KINDS = (Kind.MISSING_HERE, Kind.MISSING_THERE, Kind.AMOUNT_DIFFERS)

    class RowKind(models.TextChoices):
        PAYMENT = "payment", _("支付")
        REFUND = "refund", _("退款")

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="found",
                            verbose_name=_("对账记录"))
    day = models.DateField(_("日期"))
    bill = models.CharField(_("账单"), max_length=200)
    channel = models.CharField(_("支付渠道"), max_length=24, blank=True)
    kind = models.CharField(_("差异类型"), max_length=16, choices=Kind.choices)
    row_kind = models.CharField(_("交易类型"), max_length=8, choices=RowKind.choices)
    out_trade_no = models.CharField(_("商户订单号"), max_length=64, blank=True)
    out_refund_no = models.CharField(_("退款单号"), max_length=64, blank=True)
    gateway_reference = models.CharField(_("平台单号"), max_length=128, blank=True)
    ours_fen = models.BigIntegerField(_("我方金额(分)"), null=True, blank=True)
    theirs_fen = models.BigIntegerField(_("平台金额(分)"), null=True, blank=True)
    attempt = models.ForeignKey(PaymentAttempt, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                verbose_name=_("支付单"))
    order = models.ForeignKey(Order, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                              verbose_name=_("订单"))
    occurred_at = models.DateTimeField(_("平台时间"), null=True, blank=True)
    recorded_at = models.DateTimeField(_("我方记录时间"), null=True, blank=True)
    note = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("对账差异")
        verbose_name_plural = _("对账差异")
        ordering = ["day", "id"]
        indexes = [
            models.Index(fields=["day", "bill"], name="recondiff_day_bill"),
            models.Index(fields=["kind", "day"], name="recondiff_kind_day"),
        ]

    def __str__(self):
        return f"{self.day.isoformat()} {self.get_kind_display()} {self.out_refund_no or self.out_trade_no}"

    @property
    def needs_action(self):
        return self.kind in self.ACTION_KINDS

    @property
    def ours_yuan(self):
        return None if self.ours_fen is None else fen_to_yuan(self.ours_fen)

    @property
    def theirs_yuan(self):
        return None if self.theirs_fen is None else fen_to_yuan(self.theirs_fen)
