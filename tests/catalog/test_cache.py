from unittest import mock

import pytest
from django.core.signals import request_finished, request_started

from catalog import cache as catalog_cache

# request_started/finished close old database connections: every test here may touch the db
pytestmark = pytest.mark.django_db


def _counting_get():
    real_get = catalog_cache.cache.get
    calls = []

    def get(name, *args, **kwargs):
        if name == catalog_cache.version_key():
            calls.append(name)
        return real_get(name, *args, **kwargs)

    return calls, get


def test_a_request_reads_the_version_once():
    catalog_cache.version()  # the shared version exists (the first read ever also creates it)
    calls, get = _counting_get()
    with mock.patch.object(catalog_cache.cache, "get", get):
        request_started.send(sender=None)
        try:
            keys = {catalog_cache.key("a"), catalog_cache.key("b"), catalog_cache.key("c")}
        finally:
            request_finished.send(sender=None)
    assert len(calls) == 1
    assert len({k.split(":")[2] for k in keys}) == 1  # one version for the whole page


def test_a_bump_inside_a_request_is_read_back_and_shown_to_the_next_request():
    request_started.send(sender=None)
    try:
        before = catalog_cache.version()
        catalog_cache.bump()
        after = catalog_cache.version()
    finally:
        request_finished.send(sender=None)
    assert after != before
    request_started.send(sender=None)
    try:
        assert catalog_cache.version() == after
    finally:
        request_finished.send(sender=None)


def test_outside_requests_every_call_reads_the_shared_version():
    first = catalog_cache.version()
    catalog_cache.cache.set(catalog_cache.version_key(), first + 1, None)  # another process bumped
    assert catalog_cache.version() == first + 1


def test_a_bump_inside_a_transaction_bumps_again_after_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        from django.db import transaction

        with transaction.atomic():
            catalog_cache.bump()
            during = catalog_cache.version()
    assert len(callbacks) == 1
    assert catalog_cache.version() != during
