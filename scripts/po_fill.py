#!/usr/bin/env python
"""Fill English translations into locale/en/LC_MESSAGES/django.po and compile it.

Source strings are Simplified Chinese (the default language); English is the translation. Each app
keeps its pairs in locale/en/<app>.tsv, one "中文<TAB>English" a line ('#' starts a comment), so
that several people can add strings without fighting over django.po. A plural string
({% blocktranslate count %}) is a line "#plural 中文<TAB>English one|English other", keyed by its singular. `make messages` runs
makemessages and then this script; the .po and .mo it writes are committed.
"""

import sys
from pathlib import Path

import polib

LOCALE = Path(__file__).resolve().parent.parent / "locale" / "en"
PO = LOCALE / "LC_MESSAGES" / "django.po"


def read_pairs():
    """All pairs of every locale/en/*.tsv, and the sources given two different translations
    (one msgid has one translation: such a clash is resolved in the files, not by file order)."""
    pairs, origin, conflicts = {}, {}, []
    for tsv in sorted(LOCALE.glob("*.tsv")):
        for line in tsv.read_text(encoding="utf-8").splitlines():
            if line.startswith("#plural "):
                line = line.removeprefix("#plural ")
            if not line.strip() or line.startswith("#") or "\t" not in line:
                continue
            source, english = line.split("\t", 1)
            if not english.strip():
                continue
            if source in pairs and pairs[source] != english:
                conflicts.append(f"{source}: {pairs[source]!r} ({origin[source]}) vs {english!r} ({tsv.name})")
            pairs[source], origin[source] = english, tsv.name
    return pairs, conflicts


def main():
    po = polib.pofile(str(PO))
    pairs, conflicts = read_pairs()
    for entry in po:
        english = pairs.get(entry.msgid)
        if not english:
            continue
        if entry.msgid_plural:
            one, _sep, other = english.partition("|")
            entry.msgstr_plural = {0: one, 1: other or one}
        else:
            entry.msgstr = english
        if "fuzzy" in entry.flags:
            entry.flags.remove("fuzzy")
    po.save()
    po.save_as_mofile(str(PO.with_suffix(".mo")))
    # a fuzzy entry is left out of the .mo (Chinese on English pages): it counts as missing too
    missing = [e.msgid for e in po if not e.obsolete and not e.translated()]
    print(f"{len(pairs)} pairs in locale/en/*.tsv; {len(missing)} strings untranslated; compiled django.mo")
    for source in missing:
        print(f"  untranslated: {source}")
    for clash in conflicts:
        print(f"  two translations: {clash}")
    return 1 if "--strict" in sys.argv and (missing or conflicts) else 0


if __name__ == "__main__":
    sys.exit(main())
