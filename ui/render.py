"""Source rendering for the document view.

- PDF: the cited page rendered to a PIL image with pypdfium2 and the row's
  bounding box (pdfplumber coordinates: x0, top, x1, bottom in PDF points from
  the page's top-left corner) drawn as a translucent highlight;
- text files: the lines around the cited line, that line highlighted (HTML);
- xlsx: the sheet rows around the cited Excel row, that row highlighted (HTML).

Everything here works on a resolved file path; finding the path of an indexed
document is the handlers' job.
"""

from __future__ import annotations

import functools
import html
import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_SCALE = 2.0
HIGHLIGHT_FILL = (255, 214, 0, 90)
HIGHLIGHT_OUTLINE = (220, 38, 38, 255)
CONTEXT_LINES = 8


class RenderError(Exception):
    """The source cannot be shown; the message is Chinese."""


@dataclass(frozen=True)
class Rendered:
    """What the document view shows for one citation: a picture or an HTML fragment."""

    image: object | None = None  # PIL.Image.Image for PDF pages
    html: str = ""
    page_count: int | None = None
    highlighted_text: str = ""  # the cited line (text/xlsx), for tests and screen readers


# -- PDF ---------------------------------------------------------------------------


def pdf_page_count(path: Path | str) -> int:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        raise RenderError(f"无法打开 PDF 文件 {Path(path).name}：{exc}") from exc
    try:
        return len(pdf)
    finally:
        pdf.close()


def render_pdf_page(
    path: Path | str,
    page: int,
    bbox: tuple[float, float, float, float] | list[float] | None = None,
    *,
    scale: float = DEFAULT_SCALE,
):
    """Render 1-based ``page`` of the PDF at ``path``; draw ``bbox`` (PDF points) if given."""
    p = Path(path)
    try:
        mtime = p.stat().st_mtime_ns
    except OSError as exc:
        raise RenderError(f"找不到原始文件 {p.name}") from exc
    key_bbox = tuple(round(float(v), 2) for v in bbox) if bbox else None
    img = _render_pdf_cached(str(p), mtime, int(page), key_bbox, float(scale))
    return img.copy()


@functools.lru_cache(maxsize=32)
def _render_pdf_cached(path: str, _mtime: int, page: int, bbox: tuple[float, ...] | None, scale: float):
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    name = Path(path).name
    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        raise RenderError(f"无法打开 PDF 文件 {name}：{exc}") from exc
    try:
        n = len(pdf)
        if not 1 <= page <= n:
            raise RenderError(f"{name} 只有 {n} 页，没有第 {page} 页")
        pg = pdf[page - 1]
        try:
            img = pg.render(scale=scale).to_pil().convert("RGB")
            # pdfplumber measures from the media box's top-left corner; pdfium renders the crop box
            ml, _mb, _mr, mt = pg.get_mediabox()
            cl, _cb, _cr, ct = pg.get_cropbox()
            dx, dy = cl - ml, mt - ct
        finally:
            pg.close()
    finally:
        pdf.close()
    if bbox:
        x0, top, x1, bottom = bbox
        rect = [
            (x0 - dx) * scale - 3,
            (top - dy) * scale - 3,
            (x1 - dx) * scale + 3,
            (bottom - dy) * scale + 3,
        ]
        overlay = Image.new("RGBA", img.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        draw.rectangle(rect, fill=HIGHLIGHT_FILL, outline=HIGHLIGHT_OUTLINE, width=max(2, int(scale * 1.5)))
        img = Image.alpha_composite(img.convert("RGBA"), overlay).convert("RGB")
    return img


# -- text ----------------------------------------------------------------------------


def read_text_lines(path: Path | str) -> list[str]:
    """Decode a text file the way the indexer did (UTF-8/UTF-16/GB18030 ...) and split it into lines."""
    from indexer.extract_text import decode_bytes
    from indexer.model import IngestError

    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise RenderError(f"找不到原始文件 {p.name}") from exc
    try:
        return decode_bytes(data, p.name).text.splitlines()
    except IngestError as exc:
        raise RenderError(exc.message) from exc


def text_context(path: Path | str, line: int | None, radius: int = CONTEXT_LINES) -> list[tuple[int, str, bool]]:
    """``(line number, text, is_cited)`` for the lines around 1-based ``line`` (the top if None)."""
    lines = read_text_lines(path)
    if not lines:
        return []
    center = line if line and 1 <= line <= len(lines) else None
    if center is None:
        lo, hi = 1, min(len(lines), 2 * radius + 1)
    else:
        lo, hi = max(1, center - radius), min(len(lines), center + radius)
    return [(i, lines[i - 1], i == center) for i in range(lo, hi + 1)]


_BOX_STYLE = (
    "font-family:'Noto Sans Mono CJK SC','WenQuanYi Zen Hei Mono',Menlo,Consolas,monospace;"
    "font-size:14px;line-height:1.7;border:1px solid #d0d7de;border-radius:6px;"
    "overflow-x:auto;background:#fff;color:#1f2328;"
)


def text_context_html(path: Path | str, line: int | None, radius: int = CONTEXT_LINES) -> Rendered:
    rows = text_context(path, line, radius)
    out = [f'<div class="ps-source ps-text" style="{_BOX_STYLE}">']
    cited = ""
    for no, text, hit in rows:
        shown = html.escape(text.replace("\t", "    ")) or "&nbsp;"
        style = "white-space:pre;padding:0 10px;"
        cls = "ps-line"
        if hit:
            style += "background:#fff3b0;border-left:4px solid #dc2626;font-weight:600;"
            cls += " ps-hl"
            cited = text
        else:
            style += "border-left:4px solid transparent;"
        out.append(
            f'<div class="{cls}" style="{style}"><span style="color:#8c959f;display:inline-block;'
            f'min-width:3.5em;user-select:none">{no}</span>{shown}</div>'
        )
    out.append("</div>")
    return Rendered(html="".join(out), highlighted_text=cited)


# -- xlsx ----------------------------------------------------------------------------


def xlsx_context_html(path: Path | str, row: int | None, radius: int = CONTEXT_LINES) -> Rendered:
    """The sheet rows around Excel row ``row`` of the first sheet that has it, as an HTML table."""
    from openpyxl import load_workbook

    p = Path(path)
    try:
        wb = load_workbook(p, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds
        raise RenderError(f"无法打开 Excel 文件 {p.name}：{exc}") from exc
    try:
        ws = None
        for sheet in wb.worksheets:
            if row is None or (sheet.max_row or 0) >= row:
                ws = sheet
                break
        if ws is None:
            raise RenderError(f"{p.name} 中没有第 {row} 行")
        center = row or 1
        lo, hi = max(1, center - radius), center + radius
        values = list(ws.iter_rows(min_row=lo, max_row=hi, values_only=True))
        title = ws.title
    finally:
        wb.close()
    ncols = max((len([v for v in r]) for r in values), default=0)
    # trim trailing columns that are empty in every shown row
    while ncols and all(len(r) < ncols or r[ncols - 1] in (None, "") for r in values):
        ncols -= 1
    out = [
        f'<div class="ps-source ps-xlsx" style="{_BOX_STYLE}">',
        f'<div style="padding:4px 10px;color:#57606a">工作表：{html.escape(str(title))}</div>',
        '<table style="border-collapse:collapse;width:100%">',
    ]
    cited = ""
    for offset, r in enumerate(values):
        no = lo + offset
        hit = row is not None and no == row
        cells = [("" if v is None else str(v)) for v in list(r)[:ncols]]
        cells += [""] * (ncols - len(cells))
        style = "background:#fff3b0;font-weight:600;outline:2px solid #dc2626;" if hit else ""
        if hit:
            cited = " ".join(c for c in cells if c)
        tds = "".join(
            f'<td style="border:1px solid #d0d7de;padding:2px 6px;vertical-align:top">{html.escape(c)}</td>'
            for c in cells
        )
        out.append(
            f'<tr class="{"ps-line ps-hl" if hit else "ps-line"}" style="{style}">'
            f'<td style="color:#8c959f;padding:2px 6px;user-select:none">{no}</td>{tds}</tr>'
        )
    out.append("</table></div>")
    return Rendered(html="".join(out), highlighted_text=cited)


# -- dispatch ------------------------------------------------------------------------


# -- web pages, Word, old Excel, images (indexer.formats) -----------------------------


@functools.lru_cache(maxsize=8)
def _grid_rows_cached(path: str, _mtime: int) -> tuple:
    from indexer.formats import detect_format, extract
    from indexer.model import IngestError

    p = Path(path)
    try:
        return tuple(extract(p, detect_format(p)).rows)
    except IngestError as exc:
        raise RenderError(exc.message) from exc


def grid_context_html(path: Path | str, sheet: str | None, line: int | None, radius: int = CONTEXT_LINES) -> Rendered:
    """The table rows around row ``line`` of ``sheet`` (worksheet or ``表N``), read by the indexer's extractor."""
    p = Path(path)
    try:
        mtime = p.stat().st_mtime_ns
    except OSError as exc:
        raise RenderError(f"找不到原始文件 {p.name}") from exc
    rows = [r for r in _grid_rows_cached(str(p), mtime) if r.in_table and (sheet is None or r.sheet == sheet)]
    if not rows:
        raise RenderError(f"{p.name} 中没有{sheet or '表格'}")
    at = next((i for i, r in enumerate(rows) if r.line == line), None)
    lo = 0 if at is None else max(0, at - radius)
    shown = rows[lo : lo + 2 * radius + 1]
    ncols = max(len(r.cells) for r in shown)
    where = sheet if sheet is None or sheet.startswith("表") else f"工作表：{sheet}"
    out = [f'<div class="ps-source ps-grid" style="{_BOX_STYLE}">']
    if where:
        out.append(f'<div style="padding:4px 10px;color:#57606a">{html.escape(where)}</div>')
    out.append('<table style="border-collapse:collapse;width:100%">')
    cited = ""
    for r in shown:
        hit = line is not None and r.line == line
        style = "background:#fff3b0;font-weight:600;outline:2px solid #dc2626;" if hit else ""
        texts = [c.text for c in r.cells] + [""] * (ncols - len(r.cells))
        if hit:
            cited = " ".join(t for t in texts if t)
        tds = "".join(
            f'<td style="border:1px solid #d0d7de;padding:2px 6px">{html.escape(t)}</td>' for t in texts
        )
        out.append(f'<tr style="{style}"><td style="color:#8c959f;padding:2px 6px">{r.line or ""}</td>{tds}</tr>')
    out.append("</table></div>")
    return Rendered(html="".join(out), highlighted_text=cited)


def render_image(path: Path | str, bbox: tuple[float, float, float, float] | list[float] | None = None):
    """An image file with ``bbox`` (pixels of the deskewed image, see indexer.extract_ocr) drawn."""
    from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

    p = Path(path)
    try:
        with Image.open(p) as im:
            img = ImageOps.exif_transpose(im).convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise RenderError(f"无法打开图片 {p.name}") from exc
    if bbox:
        x0, top, x1, bottom = bbox
        overlay = Image.new("RGBA", img.size, (0, 0, 0, 0))
        ImageDraw.Draw(overlay).rectangle(
            [x0 - 3, top - 3, x1 + 3, bottom + 3], fill=HIGHLIGHT_FILL, outline=HIGHLIGHT_OUTLINE, width=3
        )
        img = Image.alpha_composite(img.convert("RGBA"), overlay).convert("RGB")
    return img


def render_source(
    path: Path | str,
    *,
    page: int | None = None,
    line: int | None = None,
    bbox: tuple[float, float, float, float] | list[float] | None = None,
    scale: float = DEFAULT_SCALE,
    sheet: str | None = None,
) -> Rendered:
    """Render the cited place of ``path``: a PDF page with ``bbox`` drawn, or the lines around ``line``."""
    p = Path(path)
    if not p.is_file():
        raise RenderError(f"找不到原始文件 {p.name}（可能已被移动或删除）")
    with open(p, "rb") as fh:
        head = fh.read(8)
    suffix = p.suffix.lower()
    if head.startswith(b"%PDF") or suffix == ".pdf":
        n = pdf_page_count(p)
        return Rendered(image=render_pdf_page(p, page or 1, bbox, scale=scale), page_count=n)
    from indexer.formats import detect_format

    fmt = detect_format(p)
    if fmt == "image":
        return Rendered(image=render_image(p, bbox), page_count=1)
    if fmt in ("xls", "et", "docx", "doc", "html") or (fmt == "xlsx" and sheet is not None):
        return grid_context_html(p, sheet, line)
    if head.startswith(b"PK\x03\x04") or suffix in (".xlsx", ".xlsm"):
        return xlsx_context_html(p, line)
    return text_context_html(p, line)
