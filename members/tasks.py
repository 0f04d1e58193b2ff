from celery import shared_task
from django.core import management


@shared_task(name="members.tasks.clear_expired_sessions")
def clear_expired_sessions():
    """Delete expired sessions from the database (where they live, with or without Redis: core.sessions)."""
    management.call_command("clearsessions")


@shared_task(name="members.tasks.expire_points")
def expire_points():
    """Expire unspent points whose expiry has passed (idempotent; see services.expire_points)."""
    from .services import expire_points as run

    return run()


@shared_task(name="members.tasks.notify_expiring_points")
def notify_expiring_points():
    """Tell members, once per expiry date, about points expiring within POINTS_EXPIRY_NOTICE_DAYS."""
    from .services import notify_expiring_points as run

    return run()


@shared_task(name="members.tasks.grant_birthday_gifts")
def grant_birthday_gifts():
    """Give today's birthday members their level's birthday points (once per member and year)."""
    from .services import grant_birthday_gifts as run

    return run()
