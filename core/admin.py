"""What every ModelAdmin of the project shares (registers nothing itself).

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

from .numbers import int_or_none

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
