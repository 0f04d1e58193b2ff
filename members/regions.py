"""The province -> city -> district dataset behind the address pickers (static/members/regions.json).

The browser reads the same file for its cascading selects; the server validates against it.
"""

import json
from functools import lru_cache

from django.conf import settings

REGIONS_FILE = settings.BASE_DIR / "static" / "members" / "regions.json"


@lru_cache(maxsize=1)
def regions():
    with open(REGIONS_FILE, encoding="utf-8") as fh:
        return json.load(fh)


def provinces():
    return list(regions())


def cities(province):
    return list(regions().get(province, {}))


def districts(province, city):
    return list(regions().get(province, {}).get(city, []))


def is_valid(province, city, district):
    return district in regions().get(province, {}).get(city, [])
