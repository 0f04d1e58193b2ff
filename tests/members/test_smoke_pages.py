import pytest
from django.urls import reverse

from .factories import make_member

pytestmark = pytest.mark.django_db


def test_pages_render(client):
    member = make_member(points=500)
    client.force_login(member.user)
    for name in [
        "members:me",
        "members:points",
        "members:addresses",
        "members:address_create",
        "members:profile",
    ]:
        response = client.get(reverse(name))
        assert response.status_code == 200, name
