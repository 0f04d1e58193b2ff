#!/usr/bin/env python
"""Fill English translations into locale/en/LC_MESSAGES/django.po and compile it.

Source strings are Simplified Chinese (the default language); English is the translation. Each app
keeps its pairs in locale/en/<app>.tsv, one "中文<TAB>English" a line ('#' starts a comment), so
that several people can add strings without fighting over django.po. `make messages` runs
makemessages and then this script; the .po and .mo it writes are committed.
"""

import sys
from pathlib import Path

import polib

LOCALE = Path(__file__).resolve().parent.parent / "locale" / "en"
PO = LOCALE / "LC_MESSAGES" / "django.po"


def read_pairs():
    pairs = {}
    for tsv in sorted(LOCALE.glob("*.tsv")):
        for line in tsv.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#") or "\t" not in line:
                continue
            source, english = line.split("\t", 1)
            if english.strip():
                pairs[source] = english
    return pairs


def main():
    po = polib.pofile(str(PO))
    pairs = read_pairs()
    for entry in po:
        english = pairs.get(entry.msgid)
        if english:
            entry.msgstr = english
            if "fuzzy" in entry.flags:
                entry.flags.remove("fuzzy")
    po.save()
    po.save_as_mofile(str(PO.with_suffix(".mo")))
    missing = [e.msgid for e in po if not e.msgstr and not e.obsolete and not e.msgid_plural]
    print(f"{len(pairs)} pairs in locale/en/*.tsv; {len(missing)} strings untranslated; compiled django.mo")
    for source in missing:
        print(f"  untranslated: {source}")
    return 1 if "--strict" in sys.argv and missing else 0


if __name__ == "__main__":
    sys.exit(main())
