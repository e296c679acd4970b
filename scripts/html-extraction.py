"""Compare HTML cleaners on saved news pages (tests/data/html): body sentences kept, site furniture left out.

    .venv/bin/python scripts/html-extraction.py

For each page, pages.json lists sentences of the article that must survive and furniture (menus, captions,
credits, bylines, related links, banners, comments) that must not. Quotes and spaces are normalised first.
"""
from __future__ import annotations

import json
import re
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(str.maketrans("‘’“”–—", "''\"\"--"))
    return " ".join(text.split()).lower()


def main() -> None:
    import trafilatura

    from qa.document import _visible_text, clean, clean_lines

    def handwritten(html: str) -> str:  # the cleaner before trafilatura: tags and regex rules only
        return "\n\n".join(clean_lines(_visible_text(html)))

    def trafilatura_plain(html: str) -> str:
        return trafilatura.extract(html, include_comments=False, include_tables=True) or ""

    cleaners = {"handwritten": handwritten, "trafilatura alone": trafilatura_plain,
                "shipped (qa.document.clean)": lambda html: clean(html, ".html")}
    pages = json.loads((ROOT / "tests/data/html/pages.json").read_text())
    totals = {name: [0, 0, 0, 0] for name in cleaners}
    for page in pages:
        html = (ROOT / "tests/data/html" / page["file"]).read_text(encoding="utf-8")
        for name, fn in cleaners.items():
            text = norm(fn(html))
            kept = [s for s in page["must_keep"] if norm(s) in text]
            noise = [s for s in page["noise"] if norm(s) in text]
            t = totals[name]
            t[0] += len(kept)
            t[1] += len(page["must_keep"])
            t[2] += len(noise)
            t[3] += len(page["noise"])
            lost = [s[:50] for s in page["must_keep"] if s not in kept]
            print(f"{page['file']:18} {name:24} kept {len(kept)}/{len(page['must_keep'])} "
                  f"noise {len(noise)}/{len(page['noise'])} {noise[:4]} lost {lost[:2]}")
    print()
    for name, (k, nk, n, nn) in totals.items():
        print(f"{name:24} body sentences kept {k}/{nk} ({100 * k / nk:.1f}%), furniture let in {n}/{nn} "
              f"({100 * n / nn:.1f}%)")


if __name__ == "__main__":
    main()
