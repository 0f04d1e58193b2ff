"""Thin Celery wrappers around stores.services."""

from celery import shared_task

from . import services


@shared_task(name="stores.tasks.notify_low_stock", acks_late=True)
def notify_low_stock(alert_id):
    return services.notify_low_stock(alert_id)


@shared_task(name="stores.tasks.sweep_low_stock")
def sweep_low_stock():
    opened, closed = services.sweep_low_stock()
    return {"opened": opened, "closed": closed}
