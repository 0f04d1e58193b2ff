"""What every ModelAdmin of the project shares (registers nothing itself).

`BoundedAutocompleteMixin`: `autocomplete_fields` whose widgets drop submitted keys an integer
primary key cannot be before looking them up (Django's own widget answered 500 to a refused form
holding sku=1.5 or 40 digits).

`BoundedDateHierarchyMixin`: Django's changelist builds its date-hierarchy range from ?<field>__year=
(and __month=, __day=) with int() and datetime arithmetic, so a year of 9999 (the next year does
not exist), 9999-12 or 9999-12-31 (one day or month on overflows) and year 1 (out of range in UTC)
answer 500. Here the three are read by core.numbers within the years both ends of a range can hold
(2 to 9998), ASCII digits only; anything else is Django's "incorrect lookup" (a redirect to ?e=1),
exactly like an unknown filter. tests/core/test_url_walk.py checks that every registered admin with
a date hierarchy uses it.
"""

from datetime import MAXYEAR, MINYEAR

from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple

from .numbers import id_or_none, int_or_none

DATE_PARTS = (("year", MINYEAR + 1, MAXYEAR - 1), ("month", 1, 12), ("day", 1, 31))


class BoundedDateHierarchyChangeList(ChangeList):
    def get_filters(self, request):
        if self.date_hierarchy:
            for part, low, high in DATE_PARTS:
                for raw in self.filter_params.get(f"{self.date_hierarchy}__{part}", []):
                    if int_or_none(raw, minimum=low, maximum=high) is None:
                        raise IncorrectLookupParameters(f"date hierarchy {part} out of range: {raw[:20]!r}")
        return super().get_filters(request)


class BoundedDateHierarchyMixin:
    def get_changelist(self, request, **kwargs):
        return BoundedDateHierarchyChangeList


class _ValidKeysOnly:
    """An autocomplete widget re-rendering a refused form looks up the submitted keys with
    `pk__in=[...]`: "abc", "1.5" or 40 digits there is a ValueError or a bigint overflow (a 500).
    Keys an integer primary key cannot be are dropped first (core.numbers reads them)."""

    def optgroups(self, name, value, attr=None):
        remote = self.field.remote_field.model._meta
        key = remote.get_field(getattr(self.field.remote_field, "field_name", None) or remote.pk.attname)
        if key.get_internal_type() in ("AutoField", "BigAutoField", "IntegerField", "BigIntegerField",
                                       "PositiveIntegerField", "PositiveBigIntegerField", "SmallAutoField"):
            value = [v for v in value if v in (None, "") or id_or_none(v) is not None]
        return super().optgroups(name, value, attr)


class BoundedAutocompleteSelect(_ValidKeysOnly, AutocompleteSelect):
    pass


class BoundedAutocompleteSelectMultiple(_ValidKeysOnly, AutocompleteSelectMultiple):
    pass


class BoundedAutocompleteMixin:
    """ModelAdmin mixin: `autocomplete_fields` with the widgets above."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = BoundedAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = BoundedAutocompleteSelectMultiple(db_field, self.admin_site,
                                                                 using=kwargs.get("using"))
        return super().formfield_for_manytomany(db_field, request, **kwargs)
