"""What the report checks read from an HTML page: ids, links, tables and figures."""

from __future__ import annotations

from html.parser import HTMLParser


class Page(HTMLParser):
    """What the checks need from the page: ids, links, attributes, tables and figure contents."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.tags: list[str] = []
        self.contents: list[str] = []
        self.urls: list[str] = []
        self.tables: dict[str, dict] = {}
        self.figures: dict[str, dict] = {}
        self._nav = self._table = self._figure = None
        self._cell = None
        self._tbody = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if "id" in a:
            self.ids.append(a["id"])
        self.urls += [a[k] for k in ("src", "href") if a.get(k)]
        if tag == "nav" and a.get("id") == "contents":
            self._nav = True
        elif tag == "a" and self._nav:
            self.contents.append(a["href"])
        elif tag == "table" and a.get("id", "").startswith("table-"):
            self._table = self.tables[a["id"]] = {"attrs": a, "rows": []}
        elif tag == "tbody" and self._table is not None:
            self._tbody = True
        elif tag == "tr" and self._tbody:
            self._table["rows"].append([])
        elif tag in ("th", "td") and self._tbody:
            self._cell = {**a, "text": ""}
            self._table["rows"][-1].append(self._cell)
        elif tag == "figure":
            self._figure = self.figures[a["id"]] = {"svg": 0, "png": []}
        elif tag == "svg" and self._figure is not None:
            self._figure["svg"] += 1
        elif tag == "img" and self._figure is not None:
            self._figure["png"].append(a["src"])

    def handle_endtag(self, tag):
        if tag == "nav":
            self._nav = None
        elif tag == "table":
            self._table, self._tbody = None, False
        elif tag == "tbody":
            self._tbody = False
        elif tag in ("th", "td"):
            self._cell = None
        elif tag == "figure":
            self._figure = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data


def parse(text: str) -> Page:
    """``text`` (a whole HTML page) read into a :class:`Page`."""
    page = Page()
    page.feed(text)
    page.close()
    return page
