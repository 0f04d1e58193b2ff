"""Thin Celery wrappers around the orders services: every timed job is idempotent (a run repeated
or overlapping changes each order once) and has a manage.py command to run it by hand."""

from celery import shared_task

from core.notify import notify


@shared_task(name="orders.tasks.cancel_overdue_orders")
def cancel_overdue_orders():
    from .services import cancel_overdue_orders as run

    return run()


@shared_task(name="orders.tasks.confirm_overdue_receipts")
def confirm_overdue_receipts():
    from .services import confirm_overdue_receipts as run

    return run()


@shared_task(name="orders.tasks.execute_refund", acks_late=True)
def execute_refund(refund_id):
    from .payments.services import execute_refund as run

    run(refund_id)


@shared_task(name="orders.tasks.retry_refunds")
def retry_refunds():
    from .payments.services import retry_refunds as run

    return run()


@shared_task(name="orders.tasks.query_pending_payments")
def query_pending_payments():
    from .payments.services import query_pending_payments as run

    return run()


@shared_task(name="orders.tasks.close_payment_attempts")
def close_payment_attempts():
    from .payments.services import close_payment_attempts as run

    return run()


@shared_task(name="orders.tasks.notify_shopper", acks_late=True)
def notify_shopper(order_id, kind):
    from .notices import notify_shopper as run

    return run(order_id, kind)


@shared_task(name="orders.tasks.notify_staff", acks_late=True)
def notify_staff(user_ids, subject, body, kind):
    from django.contrib.auth import get_user_model

    users = list(get_user_model().objects.filter(pk__in=user_ids, is_active=True))
    return notify(users, subject, body, kind=kind)


@shared_task(name="orders.tasks.poll_tracking")
def poll_tracking():
    """Ask the tracking provider about parcels on their way (orders.tracking; a no-op for manual tracking)."""
    from .tracking import poll_due_shipments

    return poll_due_shipments().as_dict()


@shared_task(name="orders.tasks.reconcile_payments")
def reconcile_payments():
    """Hourly from 10:30 (CELERY_BEAT_SCHEDULE): the recent days whose bills have not all compared.
    Gateway errors are recorded in the runs, never raised."""
    from .payments.reconcile import reconcile_due_days

    return [{"day": run.day.isoformat(), "status": run.status, "differences": run.differences}
            for run in reconcile_due_days()]


@shared_task(name="orders.tasks.reconcile_payments_day")
def reconcile_payments_day(day, user_id=None):
    """Staff's 对账 button (orders.payments.reconcile.request_reconciliation): one day, every bill."""
    from datetime import date

    from django.contrib.auth import get_user_model

    from .models import ReconciliationRun
    from .payments.reconcile import reconcile_day

    by = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    run = reconcile_day(date.fromisoformat(day), trigger=ReconciliationRun.Trigger.STAFF, by=by)
    return {"day": day, "status": run.status, "differences": run.differences}
