from celery import shared_task
from django.core import management


@shared_task(name="members.tasks.clear_expired_sessions")
def clear_expired_sessions():
    """Delete expired database sessions (a no-op with cache sessions, which expire by themselves)."""
    management.call_command("clearsessions")
