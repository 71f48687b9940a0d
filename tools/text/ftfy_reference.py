#!/usr/bin/env python3
"""Reference data for DistriGen's prompt cleanup, from ftfy 6.1.1 (pip install ftfy==6.1.1).

    python3 tools/text/ftfy_reference.py entities > models/DistriGen.Models/Text/Cleanup/HtmlEntities.txt
    python3 tools/text/ftfy_reference.py tables       # the character classes and code pages, as C# strings
    python3 tools/text/ftfy_reference.py cases INPUTS.json > tests/.../ftfy_cases.json

`cases` reads a JSON list of strings and writes [{"text": s, "fixed": ftfy.fix_text(s)}, ...].
"""
import json
import sys

import ftfy
from ftfy import badness, chardata


def escape(s):
    return "".join(ch if 0x20 < ord(ch) < 0x7F and ch not in '"\\' else
                   ("\\u%04X" % ord(ch) if ord(ch) <= 0xFFFF else "\\U%08X" % ord(ch)) for ch in s)


def main(argv):
    if argv[1] == "entities":
        for name, value in sorted(chardata.HTML_ENTITIES.items()):
            print(name + "\t" + " ".join("%X" % ord(c) for c in value))
    elif argv[1] == "tables":
        for name, chars in {**badness.MOJIBAKE_CATEGORIES, **chardata.UTF8_CLUES}.items():
            print(f'{name} = "{escape(chars)}"')
        for encoding in chardata.CHARMAP_ENCODINGS:
            high = bytes(range(0x80, 0x100)).decode(encoding)
            print(f'{encoding}: 0x1A = "{escape(bytes([0x1A]).decode(encoding))}", 0x80-0xFF = "{escape(high)}"')
    elif argv[1] == "cases":
        texts = json.load(open(argv[2], encoding="utf-8"))
        json.dump([{"text": t, "fixed": ftfy.fix_text(t)} for t in texts], sys.stdout, ensure_ascii=True, indent=0)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
