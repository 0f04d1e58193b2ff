"""Two accounts proving the same number at the same moment: the unique phone lets exactly one win."""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection

from members.auth.adapter import AccountAdapter

User = get_user_model()
PHONE = "+8613800138000"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_same_phone_bound_by_two_accounts_at_once_goes_to_one():
    users = [User.objects.create_user(f"wx_{n}") for n in range(4)]
    barrier = threading.Barrier(len(users))
    results = []

    def bind(user):
        try:
            barrier.wait()
            AccountAdapter().set_phone_verified(User.objects.get(pk=user.pk), PHONE)
            results.append("bound")
        except ValidationError:
            results.append("taken")
        finally:
            connection.close()

    threads = [threading.Thread(target=bind, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["bound", "taken", "taken", "taken"]
    assert User.objects.filter(phone=PHONE).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_new_number_proven_twice_at_once_makes_one_account():
    """The double tap on 登录 for a new number: both requests create; the unique phone lets one
    win and the other logs into the same account."""
    from members.auth.code_login import user_for_phone

    barrier = threading.Barrier(4)
    results = []

    def prove():
        try:
            barrier.wait()
            user, created = user_for_phone(PHONE)
            results.append((user.pk, created))
        finally:
            connection.close()

    threads = [threading.Thread(target=prove) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    assert len({pk for pk, _ in results}) == 1
    assert sorted(created for _, created in results) == [False, False, False, True]
    user = User.objects.get(phone=PHONE)
    assert user.phone_verified and user.member is not None
