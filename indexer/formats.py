"""The one registry of file formats perfsearch reads: suffix/content -> extractor.

Every extractor returns ``GridRow`` objects (contract in ``indexer.grid``) that
``indexer.layout`` turns into tables, whatever the format.  The CLI (folder
scan in ``indexer.pipeline``), the ingestion pipeline and the web upload all use ``SUPPORTED_SUFFIXES``
and ``unsupported_reason`` from here, so a format is added in one place.

The format of a file is decided by its content first (a ``.xls`` that is really
an HTML page, as many sites export, is read as HTML), then by its suffix.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from indexer.decode import ZIP_KIND_NAMES, zip_kind
from indexer.grid import GridRow
from indexer.model import IngestError
from indexer.settings import IngestSettings, current_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Format:
    name: str  # Document.fmt
    suffixes: tuple[str, ...]
    label: str  # shown to users
    needs: str = ""  # external program needed, shown in docs and errors


FORMATS: tuple[Format, ...] = (
    Format("text", (".txt", ".text", ".tsv", ".csv", ".md"), "文本/CSV"),
    Format("pdf", (".pdf",), "PDF（含扫描件，自动 OCR）"),
    Format("xlsx", (".xlsx", ".xlsm"), "Excel 工作簿"),
    Format("xls", (".xls",), "旧版 Excel"),
    Format("et", (".et",), "WPS 表格", needs="LibreOffice"),
    Format("docx", (".docx",), "Word 文档"),
    Format("doc", (".doc", ".wps"), "旧版 Word / WPS 文字", needs="LibreOffice"),
    Format("html", (".html", ".htm", ".shtml", ".xhtml", ".mht", ".mhtml"), "网页"),
    Format("image", (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"), "图片（OCR）"),
)

SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(s for f in FORMATS for s in f.suffixes)
_BY_SUFFIX = {s: f.name for f in FORMATS for s in f.suffixes}

SUPPORTED_TEXT = "、".join(
    "/".join(f.suffixes) + ("" if not f.needs else f"（需 {f.needs}）") for f in FORMATS
)

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"BM", b"II*\x00", b"MM\x00*", b"RIFF")

# suffixes people often drop into the folder, with what to do instead
_UNSUPPORTED_HINTS: dict[str, str] = {
    ".ppt": "演示文稿不是绩效目标表的常见格式；请把其中的表格另存为 PDF 或 Excel 后再导入",
    ".pptx": "演示文稿不是绩效目标表的常见格式；请把其中的表格另存为 PDF 或 Excel 后再导入",
    ".zip": "压缩包需要先解压，再导入解压后的文件夹",
    ".rar": "压缩包需要先解压，再导入解压后的文件夹",
    ".7z": "压缩包需要先解压，再导入解压后的文件夹",
    ".gz": "压缩包需要先解压，再导入解压后的文件夹",
    ".ofd": "OFD 版式文件暂不支持；请用数科/福昕 OFD 阅读器另存为 PDF 后再导入",
    ".rtf": "RTF 文档暂不支持；请用 Word 或 WPS 另存为 .docx 后再导入",
    ".odt": "ODT 文档暂不支持；请用 LibreOffice 另存为 .docx 后再导入",
    ".ods": "ODS 表格暂不支持；请用 LibreOffice 另存为 .xlsx 后再导入",
    ".json": "JSON 文件不是绩效目标表；如需导入请提供原始表格（PDF/Word/Excel/网页）",
    ".xml": "XML 文件暂不支持；请提供原始表格（PDF/Word/Excel/网页）",
}


def supported(path: Path | str) -> bool:
    return Path(path).suffix.lower() in _BY_SUFFIX


def unsupported_reason(path: Path | str) -> str:
    """Why ``path`` is not read, and what to do (Chinese)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if p.name.startswith("~$"):
        return "Office 打开文档时生成的临时锁文件，不是文档本身，已跳过（关闭 Office 后它会自动消失）"
    if suffix in _UNSUPPORTED_HINTS:
        return f"不支持的文件类型“{suffix}”：{_UNSUPPORTED_HINTS[suffix]}"
    shown = suffix or "无扩展名"
    return f"不支持的文件类型“{shown}”，已跳过；支持的格式：{SUPPORTED_TEXT}。如果它是绩效目标表，请另存为其中一种格式后再导入"


def is_page_assets_dir(d: Path) -> bool:
    """``页面_files`` / ``页面.files``: the assets folder a browser writes next to a saved page."""
    name = d.name
    for tail in ("_files", ".files", "_文件"):
        if name.endswith(tail) and len(name) > len(tail):
            stem = name[: -len(tail)]
            if any((d.parent / f"{stem}{ext}").is_file() for ext in (".html", ".htm", ".shtml", ".mht")):
                return True
    return False


# ---------------------------------------------------------------- format detection


def _looks_like_html(head: bytes) -> bool:
    h = head
    if h.startswith((b"\xff\xfe", b"\xfe\xff")):
        h = head.decode("utf-16", errors="ignore").encode("utf-8")
    h = h.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if h.startswith(b"mime-version:"):
        return True
    return h.startswith(b"<") and any(tag in h for tag in (b"<html", b"<table", b"<body"))


def detect_format(path: Path, head: bytes = b"") -> str:
    """The format name (``Format.name``) of ``path``: content first, suffix second."""
    path = Path(path)
    if len(head) < 4096:
        try:
            with path.open("rb") as fh:
                head = fh.read(4096)
        except OSError:
            pass
    suffix = path.suffix.lower()
    by_suffix = _BY_SUFFIX.get(suffix, "text")
    if head.startswith(b"%PDF") or b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        kind = zip_kind(path)
        if kind in ("docx", "xlsx"):
            return kind
        if not kind and by_suffix in ("docx", "xlsx"):
            return by_suffix  # a damaged workbook/document: its extractor names the reason
        return kind or "zip"  # pptx / odf / zip: ``_container`` names what it is
    if head.startswith(OLE_MAGIC):
        if by_suffix in ("doc", "xls", "et", "xlsx", "docx"):
            # an OLE container named .xlsx/.docx is an encrypted workbook/document: the
            # OOXML extractors explain that
            return by_suffix
        return "xls"
    if head.startswith(_IMAGE_MAGIC) and (head[:4] != b"RIFF" or head[8:12] == b"WEBP"):
        return "image"
    if suffix in (".mht", ".mhtml") or _looks_like_html(head[:4096]):
        return "html"
    if by_suffix in ("pdf", "xlsx", "docx", "image") and _text_in_disguise(head):
        return "text"  # e.g. a CSV export renamed .pdf/.xlsx: read it as the text it is
    return by_suffix


def _text_in_disguise(head: bytes) -> bool:
    """Bytes that decode as text (no binary magic matched above)."""
    from indexer.decode import decode_bytes

    try:
        decode_bytes(head[:65536], "")
    except IngestError:
        return False
    return True


def content_matches(path: Path | str) -> bool:
    """Whether the bytes of ``path`` can be what its suffix says (upload check before storing).

    Lenient where sites are: a ``.xls``/``.doc`` may really be a web page or an
    OOXML file, a ``.xlsx``/``.docx`` may be an encrypted (OLE) file; the
    extractor then explains.
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    kind = _BY_SUFFIX.get(p.suffix.lower())
    text_like = b"\x00" not in head[:1024] or head.startswith((b"\xff\xfe", b"\xfe\xff"))
    if kind == "pdf":
        return b"%PDF-" in head[:1024]
    if kind in ("xlsx", "docx"):
        return head.startswith((b"PK\x03\x04", OLE_MAGIC))
    if kind in ("xls", "et", "doc"):
        return head.startswith((OLE_MAGIC, b"PK\x03\x04")) or (text_like and _looks_like_html(head))
    if kind == "image":
        return head.startswith(_IMAGE_MAGIC)
    if kind in ("html", "text"):
        return text_like
    return False


# ---------------------------------------------------------------- dispatch


@dataclass(frozen=True)
class Extraction:
    rows: list[GridRow]
    encoding: str = ""
    warnings: tuple[str, ...] = ()


def _text(path: Path, settings: IngestSettings) -> Extraction:
    from indexer.extract_text import extract_text

    rows, decoded = extract_text(path)
    return Extraction(rows, decoded.encoding, (decoded.warning,) if decoded.warning else ())


def _pdf(path: Path, settings: IngestSettings) -> Extraction:
    from indexer.extract_pdf import REASON_CID, REASON_NO_TEXT, extract_pdf

    try:
        rows = extract_pdf(path, max_pages=settings.max_pdf_pages)
    except IngestError as exc:
        if exc.reason not in (REASON_NO_TEXT, REASON_CID):
            raise
    else:
        if not _looks_scanned(path, rows):
            return Extraction(rows)
    from indexer.extract_ocr import extract_scanned_pdf

    log.info("%s has no usable text layer: OCR", path.name)
    return extract_scanned_pdf(path)


# a scan with a stray text layer (scanner app watermark, page numbers) has almost no text per page
_SCAN_MAX_CHARS_PER_PAGE = 40


def _looks_scanned(path: Path, rows: list[GridRow]) -> bool:
    """Text layer too thin to hold a table, and the pages carry images: treat as a scan."""
    n_chars = sum(len(c.text) for r in rows for c in r.cells)
    pages = {r.page for r in rows if r.page is not None}
    if n_chars > _SCAN_MAX_CHARS_PER_PAGE * max(1, len(pages)) or any(len(r.cells) > 1 for r in rows):
        return False
    try:
        import pdfplumber

        with pdfplumber.open(path) as pdf:
            return any(p.images for p in pdf.pages)
    except Exception:  # noqa: BLE001 - the text extraction already succeeded; keep its result
        return False


def _xlsx(path: Path, settings: IngestSettings) -> Extraction:
    from indexer.extract_xlsx import extract_xlsx

    return Extraction(extract_xlsx(path, settings=settings))


def _xls(path: Path, settings: IngestSettings) -> Extraction:
    from indexer.extract_xls import extract_xls

    return Extraction(extract_xls(path))


def _et(path: Path, settings: IngestSettings) -> Extraction:
    from indexer.extract_xls import extract_et

    return Extraction(extract_et(path))


def _docx(path: Path, settings: IngestSettings) -> Extraction:
    from indexer.extract_docx import extract_docx

    return Extraction(extract_docx(path))


def _doc(path: Path, settings: IngestSettings) -> Extraction:
    from indexer.extract_docx import extract_doc

    return Extraction(extract_doc(path))


def _html(path: Path, settings: IngestSettings) -> Extraction:
    from indexer.extract_html import extract_html

    rows, encoding = extract_html(path)
    return Extraction(rows, encoding)


def _image(path: Path, settings: IngestSettings) -> Extraction:
    from indexer.extract_ocr import extract_image

    return extract_image(path)


def _container(path: Path, settings: IngestSettings) -> Extraction:
    """A zip container that is no workbook or document: say what it is."""
    fmt = zip_kind(path) or "zip"
    kind = ZIP_KIND_NAMES[fmt]
    suffix = path.suffix.lower()
    if suffix and suffix.lstrip(".") in kind:
        raise IngestError(path.name, f"暂不支持{kind}；支持的格式：{SUPPORTED_TEXT}")
    raise IngestError(path.name, f"文件内容是{kind}，扩展名却是 {suffix or '（无）'}；支持的格式：{SUPPORTED_TEXT}")


_EXTRACTORS: dict[str, Callable[[Path, IngestSettings], Extraction]] = {
    "text": _text,
    "pdf": _pdf,
    "xlsx": _xlsx,
    "xls": _xls,
    "et": _et,
    "docx": _docx,
    "doc": _doc,
    "html": _html,
    "image": _image,
    **{kind: _container for kind in ZIP_KIND_NAMES if kind not in ("docx", "xlsx")},
}


def extract(path: Path, fmt: str, settings: IngestSettings | None = None) -> Extraction:
    """Grid rows (plus encoding and warnings) of ``path`` read as format ``fmt``."""
    return _EXTRACTORS[fmt](Path(path), settings or current_settings())
