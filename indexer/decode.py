"""Text decoding for ingestion: tolerant, with a count of what was replaced and real reasons.

``decode_bytes`` detects, in this order:

- files that are not text at all (PDF, xlsx/docx/zip, old Office, images,
  archives) and says what they are;
- byte order marks (UTF-8, UTF-16 LE/BE, UTF-32);
- UTF-16 without a BOM (NUL bytes on one byte parity);
- UTF-8, then GB18030 vs. Big5 (scored by how many characters fall in each
  encoding's block of frequently used characters);
- otherwise the candidate needing the fewest replacements, decoded with
  ``U+FFFD`` for every undecodable byte sequence.

A file that is mostly right is never rejected whole: ``DecodedText.replaced``
counts the replaced bytes and the caller reports it as a warning.  Only text
that is mostly undecodable is rejected, with the reason.
"""

from __future__ import annotations

import codecs
import logging
import threading
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from indexer.model import IngestError

log = logging.getLogger(__name__)

REASON_EMPTY = "文件为空，没有可读取的内容"
REASON_BINARY = "不是文本文件（含有二进制数据），无法读取；支持的格式为 .txt、.pdf、.xlsx"
REASON_UNDECODABLE = "文本编码无法识别或内容已损坏（不是 UTF-8、UTF-16、GBK/GB18030 或 Big5）"

# a file is accepted with replacements while at most this share of its bytes is undecodable
MAX_REPLACED_SHARE = 0.05
# ... and always when at most this many bytes are undecodable
MAX_REPLACED_ABS = 16
# real Chinese text: > 80% of its CJK characters are frequently used ones; random bytes read
# as GB18030/Big5 score far lower
MIN_COMMON_SHARE = 0.7

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "PDF 文件"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "旧版 Office 文档（.doc/.xls，或加密的 Office 文件）"),
    (b"\x89PNG\r\n\x1a\n", "PNG 图片"),
    (b"\xff\xd8\xff", "JPEG 图片"),
    (b"GIF87a", "GIF 图片"),
    (b"GIF89a", "GIF 图片"),
    (b"\x1f\x8b", "gzip 压缩包"),
    (b"7z\xbc\xaf\x27\x1c", "7z 压缩包"),
    (b"Rar!\x1a\x07", "RAR 压缩包"),
    (b"{\\rtf", "RTF 文档"),
    (b"\x7fELF", "可执行程序"),
)


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str
    replaced: int = 0  # bytes replaced by U+FFFD

    @property
    def warning(self) -> str:
        """Chinese warning for the document, or "" when nothing was replaced."""
        if not self.replaced:
            return ""
        return f"有 {self.replaced} 个字节无法按 {self.encoding} 解码，已替换为“\ufffd”，其余内容照常导入"


def zip_kind(data_or_path: bytes | Path) -> str:
    """``xlsx``, ``docx``, ``pptx``, ``odf`` or ``zip`` for a zip container; ``""`` if unreadable."""
    import io

    try:
        src = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else data_or_path
        with zipfile.ZipFile(src) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return ""
    if any(n.startswith("xl/") for n in names):
        return "xlsx"
    if any(n.startswith("word/") for n in names):
        return "docx"
    if any(n.startswith("ppt/") for n in names):
        return "pptx"
    if "mimetype" in names or "content.xml" in names:
        return "odf"
    return "zip"


ZIP_KIND_NAMES = {
    "xlsx": "Excel 工作簿（.xlsx）",
    "docx": "Word 文档（.docx）",
    "pptx": "PowerPoint 演示文稿（.pptx）",
    "odf": "OpenDocument 文档（.ods/.odt）",
    "zip": "zip 压缩包",
}


def sniff_binary(data: bytes) -> str:
    """A Chinese name of the binary format ``data`` starts with, or ""."""
    if data.startswith(b"PK\x03\x04"):
        kind = zip_kind(data)
        return ZIP_KIND_NAMES.get(kind, "zip 压缩包（已损坏）")
    for magic, label in _MAGIC:
        if label and data.startswith(magic):
            return label
    return ""


# ---------------------------------------------------------------- counting decoders


_counter = threading.local()


def _count_errors(exc: UnicodeError) -> tuple[str, int]:
    assert isinstance(exc, UnicodeDecodeError)
    _counter.n = getattr(_counter, "n", 0) + exc.end - exc.start
    return "\ufffd", exc.end


codecs.register_error("perfsearch-count", _count_errors)


def _decode_counting(data: bytes, encoding: str) -> tuple[str, int]:
    """Decode with U+FFFD replacements; return the text and the number of replaced bytes."""
    _counter.n = 0
    text = data.decode(encoding, errors="perfsearch-count")
    return text, _counter.n


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


# ---------------------------------------------------------------- GB18030 vs Big5


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def _common_share(text: str) -> float:
    """Share of CJK characters that are frequently used ones (simplified or traditional).

    GB2312 level 1 (rows 0xB0-0xD7) holds the 3,755 most used simplified
    characters, Big5 0xA440-0xC67E the 5,401 most used traditional ones.  Real
    text scores > 0.8; bytes read with the wrong encoding score far less.
    """
    sample = [ch for ch in text[:20000] if _is_cjk(ch)]
    if not sample:
        return 0.0
    hits = 0
    for ch in sample:
        try:
            if 0xB0 <= ch.encode("gb2312")[0] <= 0xD7:
                hits += 1
                continue
        except UnicodeEncodeError:
            pass
        try:
            b = ch.encode("big5")
        except UnicodeEncodeError:
            continue
        hits += 0xA440 <= ((b[0] << 8) | b[1]) <= 0xC67E
    return hits / len(sample)


# ---------------------------------------------------------------- UTF-16 without BOM


def _utf16_guess(data: bytes) -> str | None:
    """``utf-16-le``/``utf-16-be`` when NUL bytes sit on one parity (ASCII in UTF-16)."""
    head = data[:8192]
    zeros_even = sum(1 for i in range(0, len(head), 2) if head[i] == 0)
    zeros_odd = sum(1 for i in range(1, len(head), 2) if head[i] == 0)
    total = zeros_even + zeros_odd
    if total < max(4, len(head) // 40):
        return None
    if zeros_odd >= 0.9 * total:
        return "utf-16-le"
    if zeros_even >= 0.9 * total:
        return "utf-16-be"
    return None


def _plausible(text: str, replaced_ok: bool = True) -> bool:
    """Mostly text: control characters other than tab/newline are rare.

    U+FFFD (replaced bytes) are counted separately by the caller unless
    ``replaced_ok`` is False.
    """
    if not text:
        return False
    sample = text[:50000]
    bad = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\t\r\n\f\v\x1a") or (
        not replaced_ok and ch == "\ufffd"))
    return bad <= max(5, len(sample) // 50)


def _looks_utf16_cjk(data: bytes) -> str | None:
    """UTF-16 without BOM and without ASCII: even length and almost only CJK code units."""
    if len(data) < 8 or len(data) % 2:
        return None
    for enc in ("utf-16-le", "utf-16-be"):
        text = _strict(data[:8192], enc)
        if text is None:
            continue
        letters = [ch for ch in text if not ch.isspace()]
        if letters and sum(1 for ch in letters if _is_cjk(ch) or ch in "，。：；、（）《》％") >= 0.9 * len(letters):
            return enc
    return None


# ---------------------------------------------------------------- public API


def decode_bytes(data: bytes, file: str) -> DecodedText:
    """Decode the bytes of a text file; raise ``IngestError`` with the real reason when it is no text."""
    if not data.strip():
        raise IngestError(file, REASON_EMPTY)
    kind = sniff_binary(data[:4096] if not data.startswith(b"PK\x03\x04") else data)
    if kind:
        raise IngestError(file, f"文件内容是{kind}，不是文本文件，无法按文本读取")
    if data.startswith(codecs.BOM_UTF8):
        text, bad = _decode_counting(data[3:], "utf-8")
        return _checked(file, DecodedText(text, "utf-8-sig", bad), len(data))
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        text = _strict(data, "utf-32")
        if text is not None:
            return DecodedText(text, "utf-32")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        enc = "utf-16-le" if data.startswith(codecs.BOM_UTF16_LE) else "utf-16-be"
        body = data[2:]
        text, bad = _decode_counting(body[: len(body) - len(body) % 2], enc)
        bad += len(body) % 2
        return _checked(file, DecodedText(text, "utf-16", bad), len(data))
    guess = _utf16_guess(data)
    if guess is not None:
        body = data[: len(data) - len(data) % 2]
        text, bad = _decode_counting(body, guess)
        decoded = DecodedText(text, guess, bad + len(data) % 2)
        if _plausible(text, replaced_ok=False):
            return _checked(file, decoded, len(data))
    if data[:4096].count(0) > max(2, len(data[:4096]) // 100):
        raise IngestError(file, REASON_BINARY)
    text = _strict(data, "utf-8")
    if text is not None:
        return _checked(file, DecodedText(text, "utf-8"), len(data))
    utf8_text, utf8_bad = _decode_counting(data, "utf-8")
    if utf8_bad <= max(MAX_REPLACED_ABS, len(data) * 0.002):
        # a stray byte or a character cut in half: the file is UTF-8
        return _checked(file, DecodedText(utf8_text, "utf-8", utf8_bad), len(data))
    enc16 = _looks_utf16_cjk(data)
    if enc16 is not None:
        text, bad = _decode_counting(data, enc16)
        return _checked(file, DecodedText(text, enc16, bad), len(data))
    # GB18030, Big5 or damaged UTF-8: frequent characters minus a penalty for replacements
    candidates = [DecodedText(utf8_text, "utf-8", utf8_bad)]
    for enc in ("gb18030", "big5"):
        t, bad = _decode_counting(data, enc)
        candidates.append(DecodedText(t, enc, bad))

    def score(d: DecodedText) -> float:
        return _common_share(d.text) - 10 * d.replaced / len(data)

    best = max(candidates, key=score)  # max keeps the first of equals: UTF-8, then GB18030
    if not _plausible(best.text):
        raise IngestError(file, REASON_BINARY)
    n_cjk = sum(1 for ch in best.text[:20000] if _is_cjk(ch))
    if n_cjk >= 50 and _common_share(best.text) < MIN_COMMON_SHARE:
        raise IngestError(
            file,
            f"{REASON_UNDECODABLE}（按最接近的 {best.encoding} 解码后大多是生僻字，像是乱码或二进制数据）",
        )
    return _checked(file, best, len(data))


def _checked(file: str, decoded: DecodedText, n_bytes: int) -> DecodedText:
    if not decoded.text.strip():
        raise IngestError(file, REASON_EMPTY)  # e.g. nothing but a byte order mark
    if decoded.replaced > max(MAX_REPLACED_ABS, n_bytes * MAX_REPLACED_SHARE):
        raise IngestError(
            file,
            f"{REASON_UNDECODABLE}（按最接近的 {decoded.encoding} 解码有 {decoded.replaced} 个字节无法识别，"
            f"占 {decoded.replaced / max(1, n_bytes):.0%}）",
        )
    if not _plausible(decoded.text):
        raise IngestError(file, REASON_BINARY)
    if decoded.replaced:
        log.info("%s: %d undecodable bytes replaced (%s)", file, decoded.replaced, decoded.encoding)
    return decoded


def display_name(name: str) -> str:
    """A printable file name for a name from the file system.

    Names that are not valid UTF-8 arrive with surrogate escapes (``\\udcxx``);
    they are GBK/GB18030 names from Windows zips more often than not.  Try
    GB18030, then Big5, then replace the undecodable bytes with U+FFFD.
    """
    try:
        name.encode("utf-8")
        return _visible(name)
    except UnicodeEncodeError:
        pass
    raw = name.encode("utf-8", "surrogateescape")
    for enc in ("gb18030", "big5"):
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        if text.isprintable():
            return text
    return _visible(raw.decode("utf-8", "replace"))


def _visible(name: str) -> str:
    """Control characters (a newline or an escape sequence in a file name) shown escaped,
    so one error stays one line."""
    if all(ch.isprintable() or ch == " " or unicodedata.category(ch) == "Zs" for ch in name):
        return name
    return "".join(
        ch if ch.isprintable() or unicodedata.category(ch) == "Zs" else ch.encode("unicode_escape").decode("ascii")
        for ch in name
    )


def display_path(path: str | Path) -> str:
    """``display_name`` applied to every component of a path."""
    p = str(path)
    try:
        p.encode("utf-8")
        return p
    except UnicodeEncodeError:
        return "/".join(display_name(part) for part in p.split("/"))
