from io import StringIO

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def _row_counts():
    return {m._meta.label: m.objects.count() for m in apps.get_models() if m._meta.app_label != "sessions"}


def test_seed_demo_is_idempotent(settings):
    settings.DEBUG = True
    first = StringIO()
    call_command("seed_demo", stdout=first)
    counts = _row_counts()
    assert "Demo data loaded" in first.getvalue()
    assert "admin-demo-2026" in first.getvalue()

    second = StringIO()
    call_command("seed_demo", stdout=second)
    assert "nothing changed" in second.getvalue()
    assert _row_counts() == counts


def test_seed_demo_creates_a_working_hq_admin(settings, client):
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    assert client.login(username="admin", password="admin-demo-2026")
    assert client.get("/admin/").status_code == 200
    assert client.get("/backoffice/").status_code == 200


def test_seed_demo_refuses_to_run_in_production(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG=1"):
        call_command("seed_demo", stdout=StringIO())
    assert not apps.get_model("members", "User").objects.exists()
