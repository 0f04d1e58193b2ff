"""members.services is a package by theme; every name the single module offered is still there."""

import importlib

import pytest

BEFORE_THE_SPLIT = [
    "EARN_KINDS", "SPEND_KINDS", "MembersError", "InsufficientPoints", "InvalidPoints", "ReasonRequired",
    "AddressLimitReached", "DEFAULT_LEVELS", "ensure_default_levels", "default_level", "ensure_member",
    "set_registration_source", "set_referrer", "update_profile", "points_expiry_for", "earn_points",
    "spend_points", "refund_points", "adjust_points", "SignInResult", "sign_in_points", "sign_in",
    "award_share", "award_review", "DeductionQuote", "quote_checkout_deduction", "level_for_growth",
    "merge_member_into", "add_growth", "change_level", "earn_for_completed_order", "expire_points",
    "notify_expiring_points", "_notify_member", "MAX_ADDRESSES", "save_address", "set_default_address",
    "delete_address", "points_value",
]  # fmt: skip


@pytest.mark.parametrize("name", BEFORE_THE_SPLIT + ["clawback_for_refund", "NEGATIVE_BALANCE_MESSAGE"])
def test_every_name_is_importable_from_members_services(name):
    services = importlib.import_module("members.services")
    assert getattr(services, name) is not None
    assert name in services.__all__


def test_each_theme_owns_its_names():
    from members import services
    from members.services import addresses, expiry, levels, points, profiles

    assert services.ensure_member is profiles.ensure_member
    assert services.merge_member_into is profiles.merge_member_into
    assert services.change_level is levels.change_level and services.add_growth is levels.add_growth
    assert services.spend_points is points.spend_points
    assert services.clawback_for_refund is points.clawback_for_refund
    assert services.expire_points is expiry.expire_points
    assert services.save_address is addresses.save_address
