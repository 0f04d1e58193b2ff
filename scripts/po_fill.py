#!/usr/bin/env python
"""Fill English translations into locale/en/LC_MESSAGES/django.po and compile it.

Source strings are Simplified Chinese (the default language); English is the translation.
Feed "中文<TAB>English" lines on stdin:

    python scripts/po_fill.py <<'EOF'
    购物车	Cart
    EOF

Run `make messages` (or manage.py makemessages -l en) first so the msgids exist. Unknown msgids are
reported; lines with an empty English side are skipped. Always compiles the .mo at the end.
"""

import sys
from pathlib import Path

import polib

PO = Path(__file__).resolve().parent.parent / "locale" / "en" / "LC_MESSAGES" / "django.po"


def main():
    po = polib.pofile(str(PO))
    by_id = {entry.msgid: entry for entry in po}
    unknown = []
    filled = 0
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line.strip() or "\t" not in line:
            continue
        source, english = line.split("\t", 1)
        entry = by_id.get(source)
        if entry is None:
            unknown.append(source)
            continue
        if english:
            entry.msgstr = english
            if "fuzzy" in entry.flags:
                entry.flags.remove("fuzzy")
            filled += 1
    po.save()
    po.save_as_mofile(str(PO.with_suffix(".mo")))
    missing = [e.msgid for e in po if not e.msgstr and not e.obsolete and not e.msgid_plural]
    print(f"filled {filled}; {len(missing)} still untranslated; compiled {PO.with_suffix('.mo').name}")
    for source in unknown:
        print(f"  not in the catalogue (run make messages first): {source}")
    for source in missing[:50]:
        print(f"  untranslated: {source}")


if __name__ == "__main__":
    main()
