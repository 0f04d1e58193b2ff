"""Write use cases of the members app, one module per theme; every public name is re-exported
here, so `from members.services import X` is the way in.

- profiles: ensure_member, registration source, referrer, the shopper's profile, account merge
- levels: default levels, growth value (automatic upgrades, never automatic downgrades), staff level changes
- points: the ledger primitives, earn/spend/refund/adjust, sign-in, share, review, the checkout
  deduction quote, and what orders call: earning on completion and the claw-back on a refund
- expiry: first-in-first-out expiry and the notice before it
- birthday: the level's birthday points, once a year
- addresses: shipping addresses

Points rules (DESIGN.md): `Member.points_balance` is a balance row, `PointsEntry` the append-only
ledger; both change in the same transaction, the balance only by a conditional UPDATE, so
balance == sum(ledger) always and two concurrent spends of the same points cannot both succeed.
Only a refund's claw-back may leave a negative balance (see points.py).
"""

from .addresses import MAX_ADDRESSES, delete_address, save_address, set_default_address
from .base import AddressLimitReached, InsufficientPoints, InvalidPoints, MembersError, ReasonRequired
from .birthday import birthday_reference, grant_birthday_gifts
from .expiry import _notify_member, expire_points, notify_expiring_points
from .levels import DEFAULT_LEVELS, add_growth, change_level, ensure_default_levels, level_for_growth
from .points import (
    EARN_KINDS,
    NEGATIVE_BALANCE_MESSAGE,
    SPEND_KINDS,
    DeductionQuote,
    SignInResult,
    adjust_points,
    award_review,
    award_share,
    clawback_for_refund,
    earn_for_completed_order,
    earn_points,
    points_expiry_for,
    points_value,
    quote_checkout_deduction,
    refund_points,
    sign_in,
    sign_in_points,
    spend_points,
)
from .profiles import (
    default_level,
    ensure_member,
    merge_member_into,
    set_referrer,
    set_registration_source,
    update_profile,
)

__all__ = [
    "DEFAULT_LEVELS",
    "EARN_KINDS",
    "MAX_ADDRESSES",
    "NEGATIVE_BALANCE_MESSAGE",
    "SPEND_KINDS",
    "AddressLimitReached",
    "DeductionQuote",
    "InsufficientPoints",
    "InvalidPoints",
    "MembersError",
    "ReasonRequired",
    "SignInResult",
    "_notify_member",
    "add_growth",
    "adjust_points",
    "award_review",
    "award_share",
    "birthday_reference",
    "change_level",
    "clawback_for_refund",
    "default_level",
    "delete_address",
    "earn_for_completed_order",
    "earn_points",
    "ensure_default_levels",
    "ensure_member",
    "expire_points",
    "grant_birthday_gifts",
    "level_for_growth",
    "merge_member_into",
    "notify_expiring_points",
    "points_expiry_for",
    "points_value",
    "quote_checkout_deduction",
    "refund_points",
    "save_address",
    "set_default_address",
    "set_referrer",
    "set_registration_source",
    "sign_in",
    "sign_in_points",
    "spend_points",
    "update_profile",
]
