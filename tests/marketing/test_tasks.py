"""marketing.tasks: on the beat schedule, run inline, and run by a real Celery worker."""

import time
from datetime import timedelta

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.utils import timezone

from marketing import services, tasks
from marketing.models import MemberCoupon, PointsExchange, PointsItem
from members.models import PointsEntry
from members.services import ensure_default_levels

from .conftest import balance_of, make_shopper, make_sku, make_store, stock_of
from .factories import make_coupon, make_product_item

Status = PointsExchange.Status


def _overdue_exchange(shopper, points=200):
    store, sku = make_store(), make_sku()
    from stores.services import receive_stock

    receive_stock(store, sku, 3)
    item = make_product_item(sku, points=points)
    past = timezone.now() - timedelta(days=services.pickup_days() + 1)
    exchange = services.exchange_points(shopper, item.pk, request_id="late", store_id=store.pk, now=past)
    return exchange, store, sku


# --- the schedule -------------------------------------------------------------------------------
@pytest.mark.parametrize("task", ["marketing.tasks.expire_overdue_pickups", "marketing.tasks.expire_member_coupons"])
def test_beat_schedule_runs_the_marketing_sweeps(task):
    from config.celery import app

    entries = [entry for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] == task]
    assert len(entries) == 1
    app.loader.import_default_modules()
    assert task in app.tasks
    schedule = entries[0]["schedule"]
    seconds = schedule if isinstance(schedule, int | float) else schedule.run_every.total_seconds()
    assert 0 < seconds <= 3600  # overdue pickups and ended coupons are swept at least hourly


def test_pickup_sweep_runs_more_often_than_the_pickup_days():
    entry = settings.CELERY_BEAT_SCHEDULE["marketing.expire_overdue_pickups"]
    assert entry["schedule"] < services.pickup_days() * 86400


# --- eager runs -----------------------------------------------------------------------------------
@pytest.mark.django_db
def test_expire_overdue_pickups_task_expires_and_refunds(shopper, notices, django_capture_on_commit_callbacks):
    exchange, store, sku = _overdue_exchange(shopper)
    assert balance_of(shopper) == 800
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.expire_overdue_pickups.delay().get() == 1
    exchange.refresh_from_db()
    assert exchange.status == Status.EXPIRED
    assert balance_of(shopper) == 1000
    assert stock_of(store, sku) == (3, 0)
    assert [(n[0], n[3]) for n in notices] == [(shopper.pk, "points_exchange_expired")]
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.expire_overdue_pickups.delay().get() == 0  # idempotent
    assert balance_of(shopper) == 1000 and len(notices) == 1


@pytest.mark.django_db
def test_expire_member_coupons_task_marks_ended_copies(shopper):
    coupon = make_coupon(valid_days=1)
    old = services.issue_coupon(shopper, coupon, source=MemberCoupon.Source.GRANT, reference="old",
                                now=timezone.now() - timedelta(days=2))
    fresh = services.issue_coupon(shopper, coupon, source=MemberCoupon.Source.GRANT, reference="new")
    assert tasks.expire_member_coupons.delay().get() == 1
    assert MemberCoupon.objects.get(pk=old.pk).status == MemberCoupon.Status.EXPIRED
    assert MemberCoupon.objects.get(pk=fresh.pk).status == MemberCoupon.Status.UNUSED
    assert tasks.expire_member_coupons.delay().get() == 0


# --- a real worker ------------------------------------------------------------------------------
def _app(broker_url, transport_options=None):
    # not the current app: later tests' .delay() must keep running inline (eager), not go to this broker
    app = Celery("mendian-marketing-test", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.broker_url = broker_url
    app.conf.broker_transport_options = transport_options or {}
    app.conf.task_always_eager = False
    app.autodiscover_tasks()
    return app


def _wait_until(predicate, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _worker_expires_an_overdue_pickup(app, notices):
    ensure_default_levels()  # an earlier transactional test may have flushed them
    shopper = make_shopper(points=500)
    exchange, store, sku = _overdue_exchange(shopper, points=300)
    assert balance_of(shopper) == 200
    with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10):
        app.send_task("marketing.tasks.expire_overdue_pickups")
        done = _wait_until(lambda: PointsExchange.objects.get(pk=exchange.pk).status == Status.EXPIRED)
        assert done, "the worker did not expire the exchange within 30 s"
        assert _wait_until(lambda: len(notices) == 1, seconds=10)
    assert balance_of(shopper) == 500
    refund = PointsEntry.objects.get(reference=exchange.reference, kind=PointsEntry.Kind.REFUND)
    assert refund.delta == 300
    assert stock_of(store, sku) == (3, 0)
    assert PointsItem.objects.get(pk=exchange.item_id).exchanged_count == 0
    assert notices[0][0] == shopper.pk and notices[0][3] == "points_exchange_expired"


@pytest.mark.integration
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_worker_on_redis_expires_an_overdue_pickup_and_refunds(notices):
    _worker_expires_an_overdue_pickup(_app(settings.REDIS_URL), notices)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_worker_on_the_filesystem_broker_expires_an_overdue_pickup_and_refunds(tmp_path, notices):
    folder = tmp_path / "broker"
    folder.mkdir()
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "store_processed": False,
        "control_folder": str(tmp_path / "control"),
    }
    _worker_expires_an_overdue_pickup(_app("filesystem://", options), notices)
