"""Web pages (``.html``/``.htm``, pages saved with their assets, ``.mht``) -> ``GridRow`` objects.

Implements the contract of ``indexer.grid`` for HTML:

- every *data* table (a ``<table>`` holding no other table, with at least two
  columns somewhere) becomes one ``GridRow`` per ``<tr>``; ``rowspan`` and
  ``colspan`` are expanded the way merged PDF cells are: a cell covered by a
  vertical span carries the spanning cell's text with ``filled=True``, a
  horizontally covered cell is ``""``;
- layout tables (tables holding tables) are walked into, their own text is
  free text;
- free text (titles, "2023年度", 项目名称 lines between tables) becomes one-cell
  rows with ``in_table=False``;
- page clutter is ignored: scripts, styles, comments, forms, hidden elements,
  ``<nav>``/``<header>``/``<footer>``/``<aside>`` and elements whose id/class
  names a navigation bar, header, footer, breadcrumb, share box ... (unless
  they hold a data table), and the free text after the last data table
  (footers, 打印/关闭 links, 版权所有);
- rows cite ``SourceRef.sheet = "表N"`` (N-th data table) and ``line`` = the
  row's number inside that table.

The encoding comes from a BOM, the page's ``<meta charset>`` /
``http-equiv`` declaration (GB2312/GBK read as GB18030), else detection.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexer.grid import Cell, GridRow
from indexer.model import IngestError
from indexer.normalize import clean_cell

log = logging.getLogger(__name__)

REASON_NO_TABLE = "网页中没有找到表格（<table>），无法读取绩效目标表；如果表格是图片，请保存图片后导入（自动 OCR）"
REASON_BAD_HTML = "网页内容无法解析，文件可能已损坏"

_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)
_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
_GB_ALIASES = {"gb2312", "gbk", "gb_2312-80", "x-gbk", "gb18030", "cp936", "euc-cn", "hz-gb-2312"}

_DROP_TAGS = (
    "script", "style", "noscript", "template", "iframe", "object", "embed", "select", "button",
    "svg", "canvas", "form", "input", "textarea", "head", "audio", "video", "map",
)
_CLUTTER_TAGS = ("nav", "header", "footer", "aside")
_CLUTTER_RE = re.compile(
    r"(?:^|[\s_\-])(?:nav|navbar|menu|menus|header|footer|breadcrumbs?|crumbs?|sidebar|share|bdshare|"
    r"copyright|banner|login|toolbar|friendlinks?|daohang|banquan|dqwz)(?:$|[\s_\-\d])",
    re.I,
)
# text that means a clutter-looking element holds the page's own content
_KEEP_TEXT_RE = re.compile(r"绩效.{0,12}表|绩效目标")
_BLOCK_TAGS = {
    "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt", "dd", "table", "tr",
    "td", "th", "tbody", "thead", "tfoot", "caption", "section", "article", "main", "center", "blockquote",
    "pre", "hr", "br", "body", "address", "figure", "figcaption",
}
_HIDDEN_STYLE_RE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)


# ---------------------------------------------------------------- decoding


def _mht_html(data: bytes) -> bytes:
    """The HTML part of a MIME web archive (``.mht``)."""
    msg = email.message_from_bytes(data, policy=email.policy.default)
    for part in msg.walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=True)
            if payload:
                charset = part.get_content_charset()
                if charset:
                    # re-declare the charset so decode_html finds it
                    return f'<meta charset="{charset}">'.encode("ascii") + payload
                return payload
    return b""


def decode_html(data: bytes, file: str) -> tuple[str, str]:
    """Page text and its encoding: BOM, then the meta declaration, then detection."""
    from indexer.extract_text import decode_bytes

    if data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        d = decode_bytes(data, file)
        return d.text, d.encoding
    m = _META_CHARSET_RE.search(data[:8192])
    if m:
        declared = m.group(1).decode("ascii", errors="ignore").lower()
        enc = "gb18030" if declared in _GB_ALIASES else declared
        try:
            text = data.decode(enc)
            return text, enc
        except (LookupError, UnicodeDecodeError):
            log.info("%s: declared charset %s does not decode the page; detecting", file, declared)
    d = decode_bytes(data, file)
    return d.text, d.encoding


# ---------------------------------------------------------------- clutter


def _classes(el: Any) -> str:
    return f"{el.get('id') or ''} {el.get('class') or ''}".strip()


def _holds_data_table(el: Any) -> bool:
    return any(_is_data_table(t) for t in el.iter("table"))


def _holds_content(el: Any) -> bool:
    return _holds_data_table(el) or bool(_KEEP_TEXT_RE.search(el.text_content() or ""))


def _remove(el: Any) -> None:
    """Remove ``el`` but keep its tail text."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    if tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


def _strip_clutter(root: Any) -> None:
    for el in list(root.iter(*_DROP_TAGS)):
        if el.tag == "form" and _holds_data_table(el):
            continue  # ASP.NET pages wrap the whole body in a <form>
        _remove(el)
    for el in list(root.iter()):
        if not isinstance(el.tag, str):  # comments, processing instructions
            _remove(el)
            continue
        if el.getparent() is None:
            continue
        hidden = _HIDDEN_STYLE_RE.search(el.get("style") or "") or el.get("hidden") is not None
        clutter = el.tag in _CLUTTER_TAGS or bool(_CLUTTER_RE.search(_classes(el)))
        if hidden and el.tag not in ("html", "body"):
            _remove(el)
        elif clutter and el.tag not in ("html", "body") and not _holds_content(el):
            _remove(el)


# ---------------------------------------------------------------- tables


def _own_rows(table: Any) -> list[Any]:
    """The ``<tr>`` elements of ``table`` itself (not of nested tables)."""
    return [tr for tr in table.iter("tr") if _nearest_table(tr) is table]


def _nearest_table(el: Any) -> Any:
    p = el.getparent()
    while p is not None and p.tag != "table":
        p = p.getparent()
    return p


def _own_cells(tr: Any) -> list[Any]:
    return [c for c in tr if c.tag in ("td", "th")]


def _is_data_table(table: Any) -> bool:
    if any(True for _ in table.iterdescendants("table")):
        return False
    return any(len(_own_cells(tr)) >= 2 for tr in _own_rows(table))


def _span(cell: Any, attr: str) -> int:
    raw = (cell.get(attr) or "1").strip()
    m = re.match(r"\d+", raw)
    n = int(m.group(0)) if m else 1
    return max(1, min(n, 1000))


def _cell_text(el: Any) -> str:
    """Text of a cell: ``<br>`` and block children are soft line breaks, joined like PDF cell lines."""
    from indexer.extract_pdf import join_lines

    parts: list[str] = []

    def walk(node: Any) -> None:
        if node.text:
            parts.append(node.text)
        for child in node:
            if not isinstance(child.tag, str):
                if child.tail:
                    parts.append(child.tail)
                continue
            block = child.tag in _BLOCK_TAGS
            if block:
                parts.append("\n")
            walk(child)
            if block:
                parts.append("\n")
            if child.tail:
                parts.append(child.tail)

    walk(el)
    raw = "".join(parts).replace("\xa0", " ").replace("\u3000", " ")
    lines = [re.sub(r"[ \t\r\f\v]+", " ", ln).strip() for ln in raw.split("\n")]
    return clean_cell(join_lines("\n".join(lines)))


def table_grid(table: Any) -> list[list[Cell]]:
    """Expand rowspan/colspan into a rectangular grid of cells (contract of ``indexer.grid``)."""
    rows = _own_rows(table)
    grid: dict[tuple[int, int], Cell] = {}
    width = 0
    for r, tr in enumerate(rows):
        c = 0
        for td in _own_cells(tr):
            while (r, c) in grid:
                c += 1
            rs, cs = _span(td, "rowspan"), _span(td, "colspan")
            rs = min(rs, len(rows) - r)  # rowspan past the table end (common in hand-made pages)
            text = _cell_text(td)
            for dr in range(rs):
                for dc in range(cs):
                    if dr == 0 and dc == 0:
                        grid[(r, c)] = Cell(text)
                    elif dc == 0:
                        grid[(r + dr, c)] = Cell(text, filled=bool(text))
                    else:
                        grid[(r + dr, c + dc)] = Cell("")
            c += cs
            width = max(width, c)
    out: list[list[Cell]] = []
    for r in range(len(rows)):
        out.append([grid.get((r, c), Cell("")) for c in range(width)])
    return out


# ---------------------------------------------------------------- walking the page


_BREADCRUMB_RE = re.compile(r"^(?:当前位置|您的位置|您现在的位置|所在位置|现在位置)\s*[:：]")


@dataclass
class _Walker:
    rows: list[GridRow] = field(default_factory=list)
    buf: list[tuple[str, bool]] = field(default_factory=list)  # (text, inside a link)
    n_tables: int = 0
    last_table_at: int = -1  # index in ``rows`` after the last data table row

    def flush(self) -> None:
        pieces = [(t, link) for t, link in self.buf if t.strip()]
        self.buf = []
        if not pieces or all(link for _, link in pieces):
            return  # nothing, or only links: a menu, not content
        text = clean_cell(" ".join(" ".join(t for t, _ in pieces).split()))
        if text and not _BREADCRUMB_RE.match(text):
            self.rows.append(GridRow(cells=(Cell(text),), in_table=False))

    def table(self, table: Any) -> None:
        self.flush()
        grid = table_grid(table)
        grid = [row for row in grid if any(c.text for c in row)]
        if not grid:
            return
        self.n_tables += 1
        sheet = f"表{self.n_tables}"
        caption = next((c for c in table if c.tag == "caption"), None)
        if caption is not None:
            text = _cell_text(caption)
            if text:
                self.rows.append(GridRow(cells=(Cell(text),), in_table=False))
        for i, cells in enumerate(grid, start=1):
            cells = [Cell(c.text, line=i, filled=c.filled) for c in cells]
            self.rows.append(GridRow(cells=tuple(cells), line=i, sheet=sheet, in_table=True))
        self.last_table_at = len(self.rows)

    def walk(self, el: Any, in_link: bool = False) -> None:
        if el.tag == "table" and _is_data_table(el):
            self.table(el)
            return
        in_link = in_link or el.tag == "a"
        block = el.tag in _BLOCK_TAGS
        if block:
            self.flush()
        if el.text and el.tag not in ("table", "tr", "tbody", "thead", "tfoot"):
            self.buf.append((el.text, in_link))
        for child in el:
            if isinstance(child.tag, str):
                self.walk(child, in_link)
            if child.tail:
                self.buf.append((child.tail, in_link))
        if block:
            self.flush()


def rows_from_html(text: str, file: str) -> list[GridRow]:
    import lxml.html
    from lxml import etree

    text = _XML_DECL_RE.sub("", text.lstrip("\ufeff"), count=1)
    if not text.strip():
        raise IngestError(file, "文件为空，没有可读取的内容")
    try:
        parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True)
        root = lxml.html.document_fromstring(text, parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise IngestError(file, REASON_BAD_HTML) from exc
    _strip_clutter(root)
    w = _Walker()
    body = root.find("body")
    w.walk(body if body is not None else root)
    w.flush()
    if w.n_tables == 0:
        if not w.rows:
            raise IngestError(file, REASON_NO_TABLE)
        return w.rows  # indicators written as paragraphs: the layout reads them like a text file
    # free text after the last data table is page furniture (footer, 打印本页, 版权所有)
    return w.rows[: w.last_table_at]


def extract_html(path: Path) -> tuple[list[GridRow], str]:
    """Rows of a saved web page and the encoding it was read with."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(path.name, f"无法读取文件：{exc.strerror or exc}") from exc
    if path.suffix.lower() in (".mht", ".mhtml") or data.lstrip()[:13].lower() == b"mime-version:":
        data = _mht_html(data)
        if not data:
            raise IngestError(path.name, "MHT 网页存档中没有 HTML 内容")
    text, encoding = decode_html(data, path.name)
    return rows_from_html(text, path.name), encoding
