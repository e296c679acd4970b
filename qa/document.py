"""Load a .txt, .md, .html or .pdf file and clean it into plain paragraphs for reading."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")

# Site furniture that must never become an answer: navigation, photo credits, author/agency tags.
_NAV = re.compile(r"^\s*(\d+\.\s*)?(skip to|jump to|go to) (content|main|more|navigation|search)", re.I)
_CREDIT = re.compile(r"(Image|Photo|Picture|Foto|Bild)\s*:\s*\S", re.I)
_BYLINE = re.compile(r"^[a-z]{1,4}(/[a-z]{1,4})+\s*\(.*\)\s*$")
_MENU = re.compile(r"^\s*(\d+\.|[-*•])\s*\S.{0,40}$")
# a link to another story set between the paragraphs: "Read more: …", "Related: …", "See also: …"
_PROMO = re.compile(r"^\s*(read more|related|see also|also read|more on this|recommended|watch)\s*:", re.I)


class DocumentError(ValueError):
    """The file cannot be turned into a document; the message says why."""


@dataclass
class Document:
    """A cleaned document: `text` is what offsets point into."""

    id: str
    title: str
    text: str
    source: str = ""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


class _HTMLText(HTMLParser):
    """Paragraph text of an HTML page, without scripts, menus, headers, footers or captions."""

    SKIP = {"script", "style", "nav", "header", "footer", "figure", "figcaption", "aside", "noscript", "form", "button"}
    BLOCK = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "div", "br", "tr", "blockquote", "section", "article", "title"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skip += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data.replace("\n", " "))


def _visible_text(raw: str) -> str:
    parser = _HTMLText()
    parser.feed(raw)
    return "".join(parser.parts)


_H1 = re.compile(r"<h1\b[^>]*>(.*?)</h1>", re.S | re.I)


def html_text(raw: str) -> str:
    """A web page's article: trafilatura finds the story and leaves out menus, captions, bylines, related links,
    banners and comments (scripts/html-extraction.py measures it against the hand-written parser, which remains
    for fragments trafilatura finds no article in). Headed by the headline and the standfirst it drops."""
    import html

    import trafilatura

    found = trafilatura.bare_extraction(raw, include_comments=False, include_tables=True, with_metadata=True)
    if found is None or not (found.text or "").strip():
        return _visible_text(raw)
    h1 = _H1.search(raw)
    head = [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", h1.group(1))).split()) if h1 else (found.title or "")]
    standfirst = " ".join((found.description or "").split())
    shown = standfirst and re.search(r">\s*" + re.escape(standfirst) + r"\s*<", html.unescape(raw))
    if shown and standfirst not in found.text:  # a text element of the page, not only a meta tag (SEO text)
        head.append(standfirst)
    head = [h for h in head if h and not found.text.lstrip().startswith(h)]
    return "\n".join([*head, found.text])


def _from_markdown(raw: str) -> str:
    raw = re.sub(r"```.*?```", "", raw, flags=re.S)
    raw = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", raw)  # images
    raw = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", raw)  # links keep their text
    raw = re.sub(r"^\s{0,3}(#{1,6}|>)\s*", "", raw, flags=re.M)
    raw = re.sub(r"(\*\*|__|\*|_|`)(\S.*?\S|\S)\1", r"\2", raw)
    return raw


def clean_lines(raw: str) -> list[str]:
    """Paragraph lines with site furniture removed."""
    lines = [" ".join(line.split()) for line in raw.replace("\r\n", "\n").split("\n")]
    lines = [line for line in lines if line]
    # A caption line is followed by the same text with a credit glued on: drop both.
    credits = [line for line in lines if _CREDIT.search(line)]
    kept = []
    for line in lines:
        if _NAV.match(line) or _CREDIT.search(line) or _BYLINE.match(line) or _PROMO.match(line):
            continue
        if any(c.startswith(line) for c in credits):
            continue
        # A numbered or bulleted stub at the very top is a menu, not content.
        if not kept and _MENU.match(line) and not line.rstrip().endswith((".", "?", "!")):
            continue
        kept.append(line)
    return kept


def clean(raw: str, suffix: str = ".txt") -> str:
    if "\x00" in raw:
        raise DocumentError("the file looks binary, not text")
    if suffix in (".html", ".htm"):
        raw = html_text(raw)
    elif suffix in (".md", ".markdown"):
        raw = _from_markdown(raw)
    return "\n\n".join(clean_lines(raw))


def load(path: str | Path, doc_id: str | None = None) -> Document:
    """Read and clean one file; raises DocumentError with a clear reason."""
    path = Path(path)
    check_type(path.name)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DocumentError(f"{path}: cannot read ({e.strerror or e})") from e
    return from_bytes(data, path.name, doc_id)


def check_type(name: str) -> None:
    if Path(name).suffix.lower() not in SUPPORTED:
        raise DocumentError(f"{name}: unsupported file type (use .txt, .md, .html or .pdf)")


def pdf_text(data: bytes, name: str) -> str:
    """The text layer of a PDF, page by page (pypdf); encrypted and image-only files get a clear error."""
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
        pages = [] if encrypted else [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as e:
        raise DocumentError(f"{name}: not a readable PDF ({type(e).__name__})") from None
    if encrypted:
        raise DocumentError(f"{name}: the PDF is encrypted; save an unprotected copy and add that")
    if not any(p.strip() for p in pages):
        raise DocumentError(f"{name}: the PDF has no text layer (a scan?); nothing to read")
    return "\n\n".join(_pdf_paragraphs(p) for p in pages)


def _pdf_paragraphs(page: str) -> str:
    """A PDF's lines are layout: a line that runs to the margin continues the paragraph; one that ends a sentence
    or stops short (a heading, a paragraph's last line) ends it."""
    out, current = [], []
    for line in (x.strip() for x in page.splitlines()):
        if not line:
            continue
        current.append(line)
        if line.endswith((".", "!", "?", ":", '"', "”")) or len(line) < 50:
            out.append(" ".join(current))
            current = []
    if current:
        out.append(" ".join(current))
    return "\n\n".join(out)


def from_bytes(data: bytes, name: str, doc_id: str | None = None) -> Document:
    check_type(name)
    suffix = Path(name).suffix.lower()
    if not data:
        raise DocumentError(f"{name}: the file is empty")
    if suffix == ".pdf":
        text = clean(pdf_text(data, name), ".txt")
    elif data[:5] == b"%PDF-":
        raise DocumentError(f"{name}: this is a PDF; give it the .pdf extension")
    elif b"\x00" in data[:8192]:
        raise DocumentError(f"{name}: the file looks binary, not text")
    else:
        try:
            text = clean(data.decode("utf-8-sig"), suffix)
        except UnicodeDecodeError:
            raise DocumentError(f"{name}: not UTF-8 text") from None
    if len(text.split()) < 5:
        raise DocumentError(f"{name}: no readable text after cleaning")
    title = text.split("\n\n", 1)[0][:200]
    return Document(id=doc_id or Path(name).stem, title=title, text=text, source=name)
