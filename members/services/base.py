"""What every theme of the members services shares: the errors (each with a code) and the
settings reader."""

from django.conf import settings

from core.errors import DomainError


class MembersError(DomainError):
    code = "members_error"


class InsufficientPoints(MembersError):
    code = "insufficient_points"


class InvalidPoints(MembersError):
    code = "invalid_points"


class ReasonRequired(MembersError):
    code = "reason_required"


class AddressLimitReached(MembersError):
    code = "address_limit"


def _setting(name, default):
    return getattr(settings, name, default)
