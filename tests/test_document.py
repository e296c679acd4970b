import pytest

from qa.document import DocumentError, from_bytes, load
from qa.settings import DEFAULT_DOCUMENT


def test_shipped_article_is_cleaned(article):
    assert article.title == "Putin hails Russia-China cultural and economic ties"
    assert "Skip to" not in article.text
    assert "Image:" not in article.text and "IMAGO" not in article.text
    # the photo caption (shown twice on the page) is gone, the story sentence about the same event stays
    assert "speaks at the opening of the 8th China-Russia Expo" not in article.text
    assert "mf/ab" not in article.text
    assert "Harbin is the capital of China's Heilongjiang province." in article.text
    assert article.text.startswith(article.title)


def test_raw_file_is_copied_verbatim():
    raw = DEFAULT_DOCUMENT.read_text()
    assert raw.startswith("1. Skip to content")


def test_html_drops_scripts_navigation_and_captions():
    page = b"""<html><head><title>T</title><script>alert(1)</script></head><body>
    <nav><a href=/>Home</a> <a href=/x>World</a></nav>
    <h1>Big news today</h1><p>The first paragraph says that the river rose by two metres.</p>
    <figure><img src=x.jpg><figcaption>A caption that is not news</figcaption></figure>
    <p>Officials said the water would fall by Sunday.</p><footer>Copyright</footer></body></html>"""
    doc = from_bytes(page, "story.html")
    assert "alert" not in doc.text and "Home" not in doc.text and "caption" not in doc.text
    assert "Copyright" not in doc.text
    assert "The first paragraph says that the river rose by two metres." in doc.text
    assert doc.id == "story"


def test_markdown_keeps_link_text():
    doc = from_bytes(b"# Title here\n\nThe [council](http://x) met on *Monday* to vote on the plan.\n", "a.md")
    assert doc.text == "Title here\n\nThe council met on Monday to vote on the plan."


@pytest.mark.parametrize("data,name,message", [
    (b"\x00\x01\x02binary", "x.txt", "binary"),
    (b"   \n\n  ", "x.txt", "no readable text"),
    (b"\xff\xfe\xfa not utf8", "x.txt", "UTF-8"),
])
def test_bad_files_get_clear_errors(data, name, message):
    with pytest.raises(DocumentError, match=message):
        from_bytes(data, name)


def test_unsupported_type(tmp_path):
    p = tmp_path / "a.pdf"
    p.write_bytes(b"%PDF")
    with pytest.raises(DocumentError, match="unsupported"):
        load(p)
