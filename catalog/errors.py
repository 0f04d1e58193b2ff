"""What can go wrong in the catalogue, as codes (for code and tests) with translatable messages."""

from django.utils.translation import gettext_lazy as _

from core.errors import DomainError


class CatalogError(DomainError):
    code = "catalog_invalid"


class NotSellable(CatalogError):
    """The SKU exists but cannot be sold now: draft or delisted product, outside its schedule,
    or the SKU is disabled. Carts show such a line as unavailable; checkout refuses it."""

    code = "not_sellable"

    def __init__(self, message=None, **kwargs):
        super().__init__(message or _("该商品已下架或暂不可售"), **kwargs)


class DuplicateCombination(CatalogError):
    code = "duplicate_combination"


class InvalidImage(CatalogError):
    code = "invalid_image"
