"""Scanned PDFs and images -> ``GridRow`` objects, by OCR (``rapidocr_onnxruntime``).

The page image is turned into exactly what ``indexer.extract_pdf`` builds from
a text PDF, and the PDF extractor's own continuation and output steps are
reused (tables joined over page breaks, repeated headers dropped, merged labels
cut by a page break carried on), so layout sees no difference:

1. the page is rendered (PDF, ``OCR_DPI``) or loaded (image), made grey and
   deskewed: the angle of the long horizontal ruling lines (up to 5°) is undone;
2. the table structure comes from the ruling lines (OpenCV morphology): row
   boundaries from horizontal lines, column boundaries from vertical strokes
   that run through (almost) the whole height of a row band, and merged cells
   from the missing line segments between neighbouring grid positions;
3. the whole page is OCRed once (PP-OCRv4 models shipped inside the
   ``rapidocr_onnxruntime`` wheel: nothing is downloaded); every text box goes
   to the cell holding its centre, text outside tables becomes free-text rows;
4. characters OCR confuses in this domain are repaired only where the value
   grammar leaves one reading (``1O0%`` -> ``100%``, ``>=90%`` -> ``≥90%``);
5. rows whose OCR confidence is low, or whose value needed a guess, are
   reported in ``Extraction.warnings`` (the document's parse report).

Coordinates: PDF pages cite PDF points (like a text PDF, so the 文档 tab can
draw the box on the page); images cite pixels of the image, page 1.

The OCR runs in a worker process so that a page that takes longer than the
per-page timeout (``PERFSEARCH_OCR_PAGE_TIMEOUT``, default 180 s) can be
stopped with a clear message.  A progress bar per page is shown on a terminal.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexer.grid import Cell, GridRow
from indexer.model import BBox, IngestError
from indexer.normalize import clean_cell
from indexer.values.lexicon import OP_SYMBOLS, SYMBOL_OPS

log = logging.getLogger(__name__)

OCR_DPI = 200  # rendering resolution of scanned PDF pages
LOW_CONFIDENCE = 0.80  # a row whose weakest text box scores below this is reported
MAX_SKEW_DEG = 5.0
DEFAULT_PAGE_TIMEOUT = 180.0

REASON_NO_OCR = (
    "这是扫描件或图片，需要 OCR 文字识别，但没有安装 OCR 组件。"
    "请执行：pip install rapidocr_onnxruntime（约 15 MB，自带中文识别模型，无需联网下载模型）"
)
REASON_NO_TEXT = "OCR 没有识别出任何文字（图片可能是空白页、过暗或分辨率太低，建议以 200 dpi 以上重新扫描）"
REASON_BAD_IMAGE = "无法打开图片，文件可能已损坏或不是图片"


def page_timeout() -> float:
    try:
        return float(os.environ.get("PERFSEARCH_OCR_PAGE_TIMEOUT", DEFAULT_PAGE_TIMEOUT))
    except ValueError:
        return DEFAULT_PAGE_TIMEOUT


def ocr_available() -> bool:
    try:
        import rapidocr_onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


# ---------------------------------------------------------------- page analysis (worker side)


@dataclass
class _Box:
    text: str
    score: float
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2


@dataclass
class _Region:
    """One physical (possibly merged) cell: grid range [r0, r1) x [c0, c1)."""

    r0: int
    c0: int
    r1: int
    c1: int
    text: str = ""
    score: float = 1.0
    second: str | None = None  # a second reading of a value cell that disagrees with the first


@dataclass
class _TableResult:
    xs: list[float]
    ys: list[float]
    regions: list[_Region]


@dataclass
class PageResult:
    width: int
    height: int
    angle: float
    tables: list[_TableResult] = field(default_factory=list)
    free: list[_Box] = field(default_factory=list)  # text lines outside the tables


def _binarize(gray: Any) -> Any:
    import cv2

    blur = cv2.medianBlur(gray, 3)
    return cv2.adaptiveThreshold(blur, 1, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 31, 15)


def _horizontal_mask(binary: Any, min_len: int) -> Any:
    import cv2

    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (min_len, 1))
    return cv2.morphologyEx(binary, cv2.MORPH_OPEN, kernel)


def estimate_skew(gray: Any) -> float:
    """Angle (degrees, counter-clockwise positive) of the long horizontal lines; 0 when none."""
    import cv2
    import numpy as np

    binary = _binarize(gray)
    w = gray.shape[1]
    mask = _horizontal_mask(binary, max(40, w // 25))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    angles: list[float] = []
    weights: list[float] = []
    for c in contours:
        x, _y, cw, _ch = cv2.boundingRect(c)
        if cw < w * 0.2:
            continue
        pts = c.reshape(-1, 2).astype(np.float32)
        vx, vy, _x0, _y0 = cv2.fitLine(pts, cv2.DIST_L2, 0, 0.01, 0.01).ravel()
        angle = float(np.degrees(np.arctan2(vy, vx)))
        if angle > 90:
            angle -= 180
        if angle < -90:
            angle += 180
        if abs(angle) <= MAX_SKEW_DEG:
            angles.append(angle)
            weights.append(float(cw))
    if not angles:
        return 0.0
    order = np.argsort(angles)
    a = np.asarray(angles)[order]
    wt = np.asarray(weights)[order]
    cum = np.cumsum(wt)
    return float(a[np.searchsorted(cum, cum[-1] / 2)])  # weighted median


def deskew(gray: Any) -> tuple[Any, float]:
    import cv2

    angle = estimate_skew(gray)
    if abs(angle) < 0.05:
        return gray, 0.0
    h, w = gray.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    out = cv2.warpAffine(gray, m, (w, h), flags=cv2.INTER_CUBIC, borderValue=255)
    return out, angle


def _runs(flags: Sequence[bool]) -> list[tuple[int, int]]:
    """Index ranges [a, b) where ``flags`` is True."""
    out: list[tuple[int, int]] = []
    start = None
    for i, f in enumerate(flags):
        if f and start is None:
            start = i
        elif not f and start is not None:
            out.append((start, i))
            start = None
    if start is not None:
        out.append((start, len(flags)))
    return out


def _cluster(values: Sequence[float], tol: float) -> list[float]:
    out: list[list[float]] = []
    for v in sorted(values):
        if out and v - out[-1][-1] <= tol:
            out[-1].append(v)
        else:
            out.append([v])
    return [sum(g) / len(g) for g in out]


def find_tables(gray: Any) -> list[_TableResult]:
    """Ruled tables on a deskewed page: grid lines and merged regions (no text yet)."""
    import cv2

    h, w = gray.shape
    binary = _binarize(gray)
    # tolerate a few px of residual slant (perspective of a photo): a column counts as inked
    # when any pixel within 3 px of it is
    widened = cv2.dilate(binary, cv2.getStructuringElement(cv2.MORPH_RECT, (7, 1)))
    hmin = max(40, w // 30)
    hmask = _horizontal_mask(binary, hmin)
    hmask = cv2.dilate(hmask, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 3)))
    vlong = cv2.morphologyEx(binary, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(25, h // 60))))
    frame = cv2.dilate(hmask | vlong, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5)))
    n, _labels, stats, _ = cv2.connectedComponentsWithStats(frame, connectivity=8)
    tables: list[_TableResult] = []
    for i in range(1, n):
        x, y, bw, bh, _area = stats[i]
        if bw < w * 0.25 or bh < 20:
            continue
        t = _table_in(widened, hmask, (int(x), int(y), int(x + bw), int(y + bh)))
        if t is not None:
            tables.append(t)
    tables.sort(key=lambda t: t.ys[0])
    return tables


def _table_in(binary: Any, hmask: Any, box: tuple[int, int, int, int]) -> _TableResult | None:
    import numpy as np

    x0, y0, x1, y1 = box
    sub_h = hmask[y0:y1, x0:x1]
    # row boundaries: rows of the horizontal-line mask
    row_has = sub_h.max(axis=1) > 0
    ys = [y0 + (a + b - 1) / 2 for a, b in _runs(row_has.tolist())]
    ys = _cluster(ys, 4)
    if len(ys) < 2:
        return None
    sub_b = binary[y0:y1, x0:x1]
    # vertical boundaries per row band: columns inked over >= 85% of the band height
    band_xs: list[list[float]] = []
    colmax = None
    for r in range(len(ys) - 1):
        a, b = int(ys[r] - y0) + 4, int(ys[r + 1] - y0) - 3
        if b - a < 6:
            band_xs.append([])
            continue
        coverage = sub_b[a:b].mean(axis=0)
        colmax = coverage if colmax is None else np.maximum(colmax, coverage)
        xs = [x0 + (p + q - 1) / 2 for p, q in _runs((coverage >= 0.85).tolist())]
        band_xs.append(_cluster(xs, 4))
    all_x = [x for xs in band_xs for x in xs]
    if not all_x:
        return None
    # columns are far wider than the drift of a line between row bands (perspective of a photo)
    xs = _cluster(all_x, 16)
    if len(xs) < 2:
        return None
    nrows, ncols = len(ys) - 1, len(xs) - 1

    def has_vline(r: int, x: float) -> bool:
        return any(abs(x - bx) <= 14 for bx in band_xs[r])

    def has_hline(y: float, xa: float, xb: float) -> bool:
        ya, yb = int(y) - 4, int(y) + 5
        seg = hmask[max(0, ya) : yb, int(xa) + 3 : int(xb) - 2]
        if seg.size == 0:
            return True
        return float((seg.max(axis=0) > 0).mean()) >= 0.5

    parent = list(range(nrows * ncols))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    for r in range(nrows):
        for c in range(ncols):
            if c + 1 < ncols and not has_vline(r, xs[c + 1]):
                union(r * ncols + c, r * ncols + c + 1)
            if r + 1 < nrows and not has_hline(ys[r + 1], xs[c], xs[c + 1]):
                union(r * ncols + c, (r + 1) * ncols + c)
    groups: dict[int, list[tuple[int, int]]] = {}
    for r in range(nrows):
        for c in range(ncols):
            groups.setdefault(find(r * ncols + c), []).append((r, c))
    regions: list[_Region] = []
    for members in groups.values():
        rs = [m[0] for m in members]
        cs = [m[1] for m in members]
        r0, r1, c0, c1 = min(rs), max(rs) + 1, min(cs), max(cs) + 1
        if len(members) == (r1 - r0) * (c1 - c0):
            regions.append(_Region(r0, c0, r1, c1))
        else:  # not a rectangle (a broken line): keep the grid positions as single cells
            regions.extend(_Region(r, c, r + 1, c + 1) for r, c in members)
    regions.sort(key=lambda g: (g.r0, g.c0))
    return _TableResult(xs=xs, ys=ys, regions=regions)


def _boxes(result: Any) -> list[_Box]:
    out: list[_Box] = []
    for pts, text, score in result or []:
        xs = [p[0] for p in pts]
        ys = [p[1] for p in pts]
        out.append(_Box(str(text), float(score), min(xs), min(ys), max(xs), max(ys)))
    return out


def _lines(boxes: list[_Box]) -> list[list[_Box]]:
    """Group boxes into text lines (vertical overlap), each sorted left to right."""
    lines: list[list[_Box]] = []
    for b in sorted(boxes, key=lambda b: (b.cy, b.x0)):
        for line in lines:
            ref = line[-1]
            overlap = min(ref.y1, b.y1) - max(ref.y0, b.y0)
            if overlap > 0.5 * min(ref.y1 - ref.y0, b.y1 - b.y0):
                line.append(b)
                break
        else:
            lines.append([b])
    for line in lines:
        line.sort(key=lambda b: b.x0)
    lines.sort(key=lambda ln: min(b.y0 for b in ln))
    return lines


def _join_boxes(boxes: list[_Box]) -> str:
    from indexer.extract_pdf import join_lines

    texts = []
    for line in _lines(boxes):
        parts = [line[0].text]
        for prev, b in zip(line, line[1:]):
            gap = b.x0 - prev.x1
            height = max(1.0, prev.y1 - prev.y0)
            parts.append((" " if gap > height * 0.8 else "") + b.text)
        texts.append("".join(parts))
    return clean_cell(join_lines("\n".join(texts)))


def _value_like(text: str) -> bool:
    t = re.sub(r"\s+", "", text)
    return 0 < len(t) <= 16 and any(ch.isdigit() for ch in t)


def _norm_reading(text: str) -> str:
    from indexer.normalize import fold_width

    return repair_value(re.sub(r"\s+", "", fold_width(text)))[0]


def _second_reading(img: Any, table: _TableResult, g: _Region, engine: Any) -> None:
    """Read a value cell again on its own crop; keep the reading when the two disagree.

    A glyph dropped or added in the page-wide pass (``95%`` for ``≥95%``,
    ``≥9.次``) usually reads right when the recogniser sees the cell alone.
    """
    import numpy as np

    x0, x1 = int(table.xs[g.c0]) + 4, int(table.xs[g.c1]) - 3
    y0, y1 = int(table.ys[g.r0]) + 4, int(table.ys[g.r1]) - 3
    if x1 - x0 < 8 or y1 - y0 < 8:
        return
    crop = np.pad(img[y0:y1, x0:x1], 12, constant_values=255)
    result, _ = engine(crop, use_cls=False)
    text = _join_boxes(_boxes(result))
    if _norm_reading(text) != _norm_reading(g.text):
        g.second = text


def analyse_page(gray: Any, engine: Any) -> PageResult:
    """Deskew, find ruled tables, OCR the page and put every text box in its cell."""
    import numpy as np

    gray = np.ascontiguousarray(gray)
    fixed, angle = deskew(gray)
    tables = find_tables(fixed)
    # pages are deskewed and upright: the 180° classifier only turns "95%" into "%96"
    result, _elapse = engine(fixed, use_cls=False)
    boxes = _boxes(result)
    page = PageResult(width=int(fixed.shape[1]), height=int(fixed.shape[0]), angle=angle, tables=tables)
    in_cell: dict[tuple[int, int], list[_Box]] = {}
    lookup: list[dict[tuple[int, int], int]] = []
    for t in tables:
        idx: dict[tuple[int, int], int] = {}
        for k, g in enumerate(t.regions):
            for r in range(g.r0, g.r1):
                for c in range(g.c0, g.c1):
                    idx[(r, c)] = k
        lookup.append(idx)
    free: list[_Box] = []
    for b in boxes:
        placed = False
        for ti, t in enumerate(tables):
            if not (t.xs[0] <= b.cx <= t.xs[-1] and t.ys[0] <= b.cy <= t.ys[-1]):
                continue
            r = max(0, min(len(t.ys) - 2, int(np.searchsorted(t.ys, b.cy)) - 1))
            c = max(0, min(len(t.xs) - 2, int(np.searchsorted(t.xs, b.cx)) - 1))
            k = lookup[ti].get((r, c))
            if k is not None:
                in_cell.setdefault((ti, k), []).append(b)
                placed = True
            break
        if not placed:
            free.append(b)
    for (ti, k), bs in in_cell.items():
        g = tables[ti].regions[k]
        g.text = _join_boxes(bs)
        g.score = min(b.score for b in bs)
        if _value_like(g.text):
            _second_reading(fixed, tables[ti], g, engine)
    for line in _lines(free):
        page.free.append(
            _Box(
                _join_boxes(line),
                min(b.score for b in line),
                min(b.x0 for b in line),
                min(b.y0 for b in line),
                max(b.x1 for b in line),
                max(b.y1 for b in line),
            )
        )
    return page


# ---------------------------------------------------------------- worker process


def _new_engine() -> Any:
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR(print_verbose=False)


def _serve(read_fd: int, write_fd: int) -> None:  # pragma: no cover - runs in the child process
    """The worker loop: receive grey page images, send back ``PageResult`` objects."""
    from multiprocessing.connection import Connection

    logging.getLogger("RapidOCR").setLevel(logging.ERROR)
    inbox, outbox = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    engine = _new_engine()
    while True:
        try:
            msg = inbox.recv()
        except EOFError:
            return
        if msg is None:
            return
        try:
            outbox.send(("ok", analyse_page(msg, engine)))
        except Exception as exc:  # noqa: BLE001 - reported to the parent with the page number
            outbox.send(("error", f"{type(exc).__name__}: {exc}"))


class OcrWorker:
    """A child process holding the OCR models; ``run`` analyses one page with a timeout.

    The child is a fresh interpreter (``python -c``), not a fork: forking a
    process that runs threads (web server, torch) is unsafe, and the spawn
    start method would re-run an unguarded calling script.
    """

    def __init__(self, timeout: float | None = None):
        import subprocess
        import sys
        from multiprocessing.connection import Connection

        self.timeout = page_timeout() if timeout is None else timeout
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        code = f"from indexer.extract_ocr import _serve; _serve({to_child_r}, {from_child_w})"
        self._proc = subprocess.Popen(
            [sys.executable, "-c", code], pass_fds=(to_child_r, from_child_w), env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._send = Connection(to_child_w, readable=False)
        self._conn = Connection(from_child_r, writable=False)

    def run(self, gray: Any, file: str, page: int) -> PageResult:
        try:
            self._send.send(gray)
            ready = self._conn.poll(self.timeout)
        except (BrokenPipeError, EOFError, OSError) as exc:
            raise IngestError(file, "OCR 进程意外退出（可能内存不足）", page=page) from exc
        if not ready:
            self.close(kill=True)
            raise IngestError(
                file,
                f"OCR 识别超时（单页超过 {self.timeout:g} 秒），已停止。可设置环境变量 "
                "PERFSEARCH_OCR_PAGE_TIMEOUT=秒数 放宽限制，或降低扫描分辨率后重试",
                page=page,
            )
        try:
            status, payload = self._conn.recv()
        except (EOFError, OSError) as exc:
            raise IngestError(file, "OCR 进程意外退出（可能内存不足）", page=page) from exc
        if status != "ok":
            raise IngestError(file, f"OCR 识别失败：{payload}", page=page)
        return payload

    def close(self, kill: bool = False) -> None:
        import subprocess

        if self._proc.poll() is None:
            if not kill:
                try:
                    self._send.send(None)
                except (BrokenPipeError, OSError):
                    kill = True
            if kill:
                self._proc.kill()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._send.close()
        self._conn.close()

    def __enter__(self) -> OcrWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- value repair


_OPS = OP_SYMBOLS  # the lexicon's operator symbols
_CONFUSABLE_NUM_RE = re.compile(rf"^([{_OPS}]?)([0-9OoIl|.]+)(%|％)?$")
_STRAY_PERIOD_RE = re.compile(r"(\d%?)[.。](?!\d)")
_SIMPLE_VALUE_RE = re.compile(rf"^[{_OPS}]?\d+(?:\.\d+)?[^\d.。]{{0,6}}$")
# other spellings of ≥ / ≤ (>=, ≧, ＞＝ …), longest first
_OP_FIX = {w: SYMBOL_OPS[w] for w in sorted(SYMBOL_OPS, key=len, reverse=True) if SYMBOL_OPS[w] in "≥≤" and w != SYMBOL_OPS[w]}


def repair_value(text: str) -> tuple[str, bool]:
    """Fix OCR confusions where the value grammar allows only one reading.

    Returns the text and whether it changed.  Only whole values made of an
    optional operator, digits and an optional ``%`` are touched: ``1O0%`` ->
    ``100%``, ``9l%`` -> ``91%``, ``>=90%`` -> ``≥90%``, ``≥9.次`` -> ``≥9次``.
    A letter is only replaced next to a real digit.
    """
    t = text.strip()
    # a period with no digit after it cannot be a decimal point: "≥9.次", "≥90%.", "0."
    unstrayed = _STRAY_PERIOD_RE.sub(r"\1", t)
    if unstrayed != t and _SIMPLE_VALUE_RE.match(unstrayed):
        t = unstrayed
    for bad, good in _OP_FIX.items():
        if t.startswith(bad):
            t = good + t[len(bad) :]
            break
    m = _CONFUSABLE_NUM_RE.match(t)
    if m and re.search(r"\d", m.group(2)) and re.search(r"[OoIl|]", m.group(2)):
        digits = m.group(2).translate(str.maketrans("OoIl|", "00111"))
        if re.fullmatch(r"\d+(?:\.\d+)?", digits):
            t = m.group(1) + digits + (m.group(3) or "")
    return t, t != text.strip()


# characters the recogniser confuses; a name is only *flagged* (never changed) when the
# other reading makes a common word and the one read does not
_CONFUSABLE_GROUPS = (
    "目自", "己已巳", "未末", "人入八", "土士", "千干于", "日曰", "天夭", "戊戍戌", "拨拔", "侯候",
    "徽微", "肓盲", "崇祟", "券卷", "苦若", "免兔", "折拆析", "栽裁载", "准淮", "页贞", "处外", "习刁",
)
_CONFUSABLE = {c: g.replace(c, "") for g in _CONFUSABLE_GROUPS for c in g}
_COMMON_WORD_FREQ = 500


def _word_freq() -> dict[str, int]:
    import jieba

    jieba.setLogLevel(logging.ERROR)
    jieba.initialize()
    return jieba.dt.FREQ


def suspicious_chars(text: str) -> list[tuple[str, str]]:
    """``(read, likely)`` word pairs where a confusable character probably was misread.

    ``项自资金`` -> ``[("项自", "项目")]``: "项目" is a common word, neither "项自"
    nor "自资" is one.
    """
    if not any(c in _CONFUSABLE for c in text):
        return []
    freq = _word_freq()
    out: list[tuple[str, str]] = []
    for i, ch in enumerate(text):
        alts = _CONFUSABLE.get(ch)
        if not alts:
            continue
        pairs = [(text[i - 1 : i + 1], i - 1), (text[i : i + 2], i)]
        pairs = [(w, j) for w, j in pairs if len(w) == 2 and j >= 0]
        if any(freq.get(w, 0) > 0 for w, _ in pairs):
            continue  # the character as read makes a word with a neighbour
        for alt in alts:
            for w, j in pairs:
                fixed = w.replace(ch, alt, 1) if j == i else w[0] + alt
                if freq.get(fixed, 0) >= _COMMON_WORD_FREQ:
                    out.append((w, fixed))
                    break
            else:
                continue
            break
    return out


def _known_label(text: str) -> bool:
    from indexer import vocab
    from indexer.normalize import key

    k = key(text).rstrip(":：")
    keys = (
        vocab.GOAL_KEYS, vocab.UNIT_KEYS, vocab.IMPL_UNIT_KEYS, vocab.PROJECT_KEYS, vocab.SUPERVISOR_KEYS,
        vocab.DUTY_KEYS, vocab.TOTAL_KEYS, vocab.FUNDING_KEYS,
    )
    return (
        any(k in ks for ks in keys)
        or vocab.header_role(text) is not None
        or vocab.is_level1(text)
        or vocab.is_level2(text)
    )


def repair_label(text: str) -> str:
    """A short label that is a known table label (年度绩效目标, 数量指标 ...) after changing one
    confusable character is that label: the vocabulary leaves one reading."""
    t = text.strip()
    if not t or len(t) > 12 or not any(c in _CONFUSABLE for c in t) or _known_label(t):
        return text
    for i, ch in enumerate(t):
        for alt in _CONFUSABLE.get(ch, ""):
            fixed = t[:i] + alt + t[i + 1 :]
            if _known_label(fixed):
                return fixed
    return text


# ---------------------------------------------------------------- page -> PDF extractor structures


@dataclass
class _PageOut:
    number: int
    scale: float  # page units per pixel
    result: PageResult


def _raw_tables(p: _PageOut, warnings: list[str], file: str) -> list[tuple[float, Any]]:
    from indexer.extract_pdf import _RawCell, _RawTable

    s = p.scale
    items: list[tuple[float, Any]] = []
    for t in p.result.tables:
        nrows, ncols = len(t.ys) - 1, len(t.xs) - 1
        grid: list[list[Any]] = [[None] * ncols for _ in range(nrows)]
        low_rows: dict[int, float] = {}
        doubts: dict[int, list[str]] = {}
        for cid, g in enumerate(t.regions):
            text, changed = repair_value(repair_label(g.text))
            if changed or text != g.text:
                log.info("%s p.%d: OCR cell %r repaired to %r", file, p.number, g.text, text)
            if g.second is not None:
                # two readings disagree; the row is reported either way.  The cell read on its own
                # wins only when it adds the leading operator the page-wide reading dropped (a small
                # glyph such as ≥ is what that reading loses); otherwise the page reading stays
                second = repair_value(re.sub(r"\s+", "", g.second))[0]
                if second[:1] in _OPS and second[1:] == re.sub(r"\s+", "", text):
                    text, second = second, text
                doubts.setdefault(g.r0, []).append(f"两次识别结果不一致（“{text}”/“{second}”）")
            if text and g.score < LOW_CONFIDENCE:
                low_rows[g.r0] = min(low_rows.get(g.r0, 1.0), g.score)
            for read, likely in suspicious_chars(text):
                doubts.setdefault(g.r0, []).append(f"“{read}”疑为“{likely}”（OCR 易混字）")
            vspan = g.r1 - g.r0 > 1
            for r in range(g.r0, g.r1):
                for c in range(g.c0, g.c1):
                    pos: BBox = (t.xs[c] * s, t.ys[r] * s, t.xs[c + 1] * s, t.ys[r + 1] * s)
                    if (r, c) == (g.r0, g.c0):
                        grid[r][c] = _RawCell(text, pos, False, cid, vspan)
                    elif c == g.c0:
                        grid[r][c] = _RawCell(text, pos, bool(text), cid, vspan)
                    else:
                        grid[r][c] = _RawCell("", pos, False, cid, vspan)
        rows = [list(r) for r in grid]
        bbox: BBox = (t.xs[0] * s, t.ys[0] * s, t.xs[-1] * s, t.ys[-1] * s)
        for r in sorted(set(low_rows) | set(doubts)):
            shown = " ".join(c.text for c in rows[r] if c.text and not c.filled)
            why = []
            if r in low_rows:
                why.append(f"OCR 识别置信度低（{low_rows[r]:.2f}）")
            if r in doubts:
                why.append("、".join(doubts[r]))
            warnings.append(f"第{p.number}页 表格第{r + 1}行“{shown[:60]}”：{'；'.join(why)}，请对照原件核对")
        items.append((bbox[1], _RawTable(p.number, bbox, [x * s for x in t.xs], rows, [p.number] * nrows)))
    return items


def _free_rows(p: _PageOut, warnings: list[str]) -> list[tuple[float, GridRow]]:
    s = p.scale
    out: list[tuple[float, GridRow]] = []
    for b in p.result.free:
        if not b.text:
            continue
        bbox: BBox = (b.x0 * s, b.y0 * s, b.x1 * s, b.y1 * s)
        out.append((bbox[1], GridRow(cells=(Cell(b.text, bbox=bbox),), page=p.number, bbox=bbox, in_table=False)))
    return out


def _snap_continuations(pages: list[Any]) -> None:
    """Give a page's leading table the column positions of the previous page's table when they match.

    OCR geometry differs by a pixel or two between pages; the PDF extractor
    joins continuation tables only when column boundaries agree within 2 points.
    """
    from indexer.extract_pdf import _leading_table, _trailing_table

    for prev, page in zip(pages, pages[1:]):
        a, b = _trailing_table(prev), _leading_table(page)
        if a is None or b is None or len(a.xs) != len(b.xs):
            continue
        if all(abs(p - q) <= 8.0 for p, q in zip(a.xs, b.xs)):
            b.xs = list(a.xs)


def grid_rows(pages: list[_PageOut], file: str) -> tuple[list[GridRow], list[str]]:
    """Page results -> grid rows through the PDF extractor's continuation and output steps."""
    from indexer.extract_pdf import _join_continuations, _PageItems, _to_grid_rows

    warnings: list[str] = []
    items_pages = []
    for p in pages:
        items = _raw_tables(p, warnings, file) + _free_rows(p, warnings)
        items.sort(key=lambda it: (it[0], 0 if not isinstance(it[1], GridRow) else 1))
        items_pages.append(_PageItems(p.number, p.result.height * p.scale, items))
    _snap_continuations(items_pages)
    return _to_grid_rows(_join_continuations(items_pages)), warnings


# ---------------------------------------------------------------- public API


def _progress(total: int, file: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=f"OCR {file[:30]}", unit="页", leave=False, disable=None)


def _pdf_pages(path: Path, dpi: int) -> Iterator[Any]:
    """Grey numpy images of the PDF's pages."""
    import numpy as np
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        for i in range(len(pdf)):
            page = pdf[i]
            bitmap = page.render(scale=dpi / 72, grayscale=True)
            img = bitmap.to_pil().convert("L")
            yield np.asarray(img)
            page.close()
    finally:
        pdf.close()


def _pdf_page_count(path: Path) -> int:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        return len(pdf)
    finally:
        pdf.close()


def _extraction(rows: list[GridRow], warnings: list[str], file: str):
    from indexer.formats import Extraction

    if not any(c.text for r in rows for c in r.cells):
        raise IngestError(file, REASON_NO_TEXT)
    for w in warnings:
        log.warning("%s: %s", file, w)
    return Extraction(rows, "", tuple(["本文件由 OCR 识别，请对照原件核对数值", *warnings]))


def extract_scanned_pdf(path: Path, dpi: int = OCR_DPI) -> Any:
    """OCR every page of a PDF without a text layer; returns ``formats.Extraction``."""
    path = Path(path)
    if not ocr_available():
        raise IngestError(path.name, REASON_NO_OCR)
    try:
        n = _pdf_page_count(path)
    except Exception as exc:  # pdfium raises its own error types
        raise IngestError(path.name, "PDF 文件已损坏或不完整") from exc
    pages: list[_PageOut] = []
    bar = _progress(n, path.name)
    try:
        with OcrWorker() as worker:
            for number, gray in enumerate(_pdf_pages(path, dpi), start=1):
                pages.append(_PageOut(number, 72.0 / dpi, worker.run(gray, path.name, number)))
                bar.update(1)
    finally:
        bar.close()
    rows, warnings = grid_rows(pages, path.name)
    return _extraction(rows, warnings, path.name)


def load_image(path: Path) -> Any:
    import numpy as np
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)  # phone photos store their rotation in EXIF
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)
            return np.asarray(im.convert("L"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise IngestError(path.name, REASON_BAD_IMAGE) from exc


def extract_image(path: Path) -> Any:
    """OCR one image (PNG/JPEG/...); rows cite page 1 and pixel boxes."""
    path = Path(path)
    if not ocr_available():
        raise IngestError(path.name, REASON_NO_OCR)
    gray = load_image(path)
    bar = _progress(1, path.name)
    try:
        with OcrWorker() as worker:
            result = worker.run(gray, path.name, 1)
            bar.update(1)
    finally:
        bar.close()
    rows, warnings = grid_rows([_PageOut(1, 1.0, result)], path.name)
    return _extraction(rows, warnings, path.name)
