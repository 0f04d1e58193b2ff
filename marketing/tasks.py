from celery import shared_task


@shared_task(name="marketing.tasks.expire_overdue_pickups")
def expire_overdue_pickups():
    """Points-mall goods not picked up in time: unit back to the store, points back to the member."""
    from .services import expire_overdue_pickups as run

    return run()


@shared_task(name="marketing.tasks.expire_member_coupons")
def expire_member_coupons():
    """Mark unused coupons past their end date as expired (idempotent)."""
    from .services import expire_member_coupons as run

    return run()
