"""Render seed tables as the other formats government sites publish: web page, Word, old Excel, scans.

Uses the same grid model as ``scripts/make_corpus.py`` (``build_grid``: one grid
per ``Table``, label cells merged over consecutive rows), so every file holds
exactly the rows of its seed text:

    python -m scripts.make_corpus_formats            # writes the files below into corpus/ and corpus/scans/
    python -m scripts.make_corpus_formats --no-ocr   # skip the scanned files

The two OCR inputs live in ``corpus/scans/``: OCR takes minutes, so the search/QA tests
and benchmarks, which ingest the files directly in ``corpus/``, leave them out; the demo
index (``./run.sh``) reads the whole ``corpus/`` folder, scans included.

- ``html_001_…html``: seed 001 inside a realistic gov.cn page (GB2312 declared,
  layout table, navigation, breadcrumb, share box, footer, scripts, comments),
  label cells as ``rowspan``, budget cells as ``colspan``;
- ``docx_003_…docx``: seed 003 (one department table and ten project tables,
  title paragraphs between them), merged cells as ``gridSpan``/``vMerge``;
- ``doc_004_…doc``: seed 004 as a Word 97-2003 file (the docx converted by LibreOffice);
- ``xls_003_…xls``: seed 003 on two sheets (部门整体 / 项目支出), merged cells;
- ``corpus/scans/scan_004_…pdf``: ``pdf_004`` rendered to 150-dpi grey images, rotated a
  little, with scanner noise, wrapped back into an image-only PDF;
- ``corpus/scans/photo_003_…png``: one project table of seed 003 photographed: tilted,
  uneven light, soft focus, sensor noise.

Output is deterministic except the ``.doc`` file, whose bytes LibreOffice
stamps with the conversion time (its content is the same every time).
"""

from __future__ import annotations

import argparse
import html
import logging
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from indexer.model import Table
from scripts.make_corpus import (
    CORPUS_DIR,
    FIXED_TIME,
    ROOT,
    GridSpec,
    _normalize_xlsx,
    build_grid,
    default_title,
    fmt_amount,
    render_pdf,
)

log = logging.getLogger(__name__)

OCR_DIR = ROOT / "corpus" / "scans"  # scanned PDF and photo (see the module docstring)

SEED_HTML = "001_5faa2bc3c3b6a31c.txt"
SEED_WORD = "003_be79a3bdad299845.txt"
SEED_DOC = "004_65f67547a9505fce.txt"
SEED_XLS = "003_be79a3bdad299845.txt"
SCAN_SOURCE = "pdf_004_huangyuan_2024.pdf"
SEED_PHOTO = "003_be79a3bdad299845.txt"
PHOTO_TABLE = 1  # the first project table of seed 003

HTML_NAME = "html_001_suzhou_dianhua_2024.html"
DOCX_NAME = "docx_003_ganzhou_jiaoti_2023.docx"
DOC_NAME = "doc_004_huangyuan_2024.doc"
XLS_NAME = "xls_003_ganzhou_jiaoti_2023.xls"
SCAN_NAME = "scan_004_huangyuan_2024.pdf"
PHOTO_NAME = "photo_003_ganzhou_zhaoshang_2023.png"

# seed text -> file, for the tests: (seed, file, which tables of the seed)
JOBS: tuple[tuple[str, str, slice], ...] = (
    (SEED_HTML, HTML_NAME, slice(None)),
    (SEED_WORD, DOCX_NAME, slice(None)),
    (SEED_DOC, DOC_NAME, slice(None)),
    (SEED_XLS, XLS_NAME, slice(None)),
)
OCR_JOBS: tuple[tuple[str, str, slice], ...] = (
    (SEED_DOC, SCAN_NAME, slice(None)),
    (SEED_PHOTO, PHOTO_NAME, slice(PHOTO_TABLE, PHOTO_TABLE + 1)),
)


def _text(value: object) -> str:
    if isinstance(value, (int, float)):
        return fmt_amount(value)
    return "" if value is None else str(value)


def _span_map(spec: GridSpec) -> tuple[dict[tuple[int, int], tuple[int, int]], set[tuple[int, int]]]:
    """Top-left (row, col) -> (rowspan, colspan), and the covered positions."""
    starts: dict[tuple[int, int], tuple[int, int]] = {}
    covered: set[tuple[int, int]] = set()
    for c0, r0, c1, r1 in spec.spans:
        starts[(r0, c0)] = (r1 - r0 + 1, c1 - c0 + 1)
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                if (r, c) != (r0, c0):
                    covered.add((r, c))
    return starts, covered


# ---------------------------------------------------------------- HTML

_PAGE_HEAD = """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=gb2312" />
<meta name="SiteName" content="苏州市教育局" />
<meta name="ColumnName" content="预算公开" />
<title>{title}_苏州市教育局</title>
<link href="../../images/style.css" rel="stylesheet" type="text/css" />
<script type="text/javascript" src="../../js/jquery.min.js"></script>
<script type="text/javascript">var _hmt = _hmt || []; document.write("<table><tr><td>统计</td><td>代码</td></tr></table>");</script>
<style type="text/css">.nav li{{float:left}} table.MsoNormalTable td{{border:1px solid #000}}</style>
</head>
<body>
<!-- 头部开始 -->
<div class="header">
  <div class="top-bar">今天是：<span id="today"></span> <a href="#">无障碍浏览</a> <a href="#">长者模式</a> <a href="#">English</a></div>
  <div class="logo"><img src="../../images/logo.png" alt="苏州市教育局" /></div>
  <div class="search"><form action="/search"><input name="q" /><button>搜索</button></form></div>
</div>
<div class="nav"><ul><li><a href="/">首页</a></li><li><a href="#">机构概况</a></li><li><a href="#">政务公开</a></li>
<li><a href="#">教育资讯</a></li><li><a href="#">办事服务</a></li><li><a href="#">互动交流</a></li></ul></div>
<!-- 头部结束 -->
<table width="1000" border="0" align="center" cellpadding="0" cellspacing="0" class="main">
<tr>
<td width="220" valign="top" class="left">
  <table width="100%" border="0" cellspacing="0" cellpadding="0">
  <tr><td class="lm">预算公开</td></tr>
  <tr><td><a href="#">部门预算</a></td></tr>
  <tr><td><a href="#">部门决算</a></td></tr>
  <tr><td><a href="#">绩效管理</a></td></tr>
  </table>
</td>
<td width="780" valign="top">
<div class="position">当前位置：<a href="/">首页</a> &gt; <a href="#">政务公开</a> &gt; <a href="#">预算公开</a></div>
<div class="article">
<h1 class="article-title">{title}</h1>
<div class="info">发布时间：2024-02-06 09:30　来源：市财政局　浏览次数：<span id="hits">1024</span>
<a href="javascript:window.print()">【打印本页】</a></div>
<div class="TRS_Editor" id="zoom">
<p style="text-indent:2em">根据预算公开有关要求，现将{unit}{year}年度部门整体绩效目标公开如下：</p>
"""

_PAGE_TAIL = """</div>
<div class="bdshare">分享到：<a href="#">微信</a> <a href="#">微博</a></div>
</div>
</td>
</tr>
</table>
<div class="footer">
<p><a href="#">网站地图</a> | <a href="#">联系我们</a> | <a href="#">隐私声明</a></p>
<p>主办单位：苏州市教育局　　承办单位：苏州市电化教育馆　　网站标识码：3205000018</p>
<p>苏ICP备05012345号-1　　苏公网安备 32050802010001号　　地址：苏州市三香路1230号　　电话：0512-68661234</p>
</div>
<script type="text/javascript">document.getElementById("today").innerHTML = new Date().toLocaleDateString();</script>
</body>
</html>
"""


def _html_grid(spec: GridSpec) -> str:
    starts, covered = _span_map(spec)
    out = ['<table class="MsoNormalTable" border="1" cellspacing="0" cellpadding="0" width="100%"'
           ' style="border-collapse:collapse">', "<tbody>"]
    for r, row in enumerate(spec.values):
        out.append("<tr>")
        for c, value in enumerate(row):
            if (r, c) in covered:
                continue
            attrs = ""
            rs, cs = starts.get((r, c), (1, 1))
            if rs > 1:
                attrs += f' rowspan="{rs}"'
            if cs > 1:
                attrs += f' colspan="{cs}"'
            text = html.escape(_text(value))
            # Word-exported pages wrap cell text in <p><span>; long cells get a manual break
            if len(text) > 60:
                mid = len(text) // 2
                text = f"{text[:mid]}<br />\n{text[mid:]}"
            out.append(f'<td valign="middle"{attrs}><p align="center"><span>{text}</span></p></td>')
        out.append("</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def render_html(tables: Sequence[Table], out: Path) -> Path:
    """A gov.cn-style article page holding ``tables``, encoded as GB18030 with a GB2312 declaration."""
    first = tables[0]
    page = [_PAGE_HEAD.format(title=html.escape(default_title(first)), unit=first.unit, year=first.year)]
    for table in tables:
        spec, _cols = build_grid(table)
        page.append(f'<p align="center"><strong><span style="font-size:18pt">'
                    f"{html.escape(default_title(table))}</span></strong></p>")
        if table.year is not None:
            page.append(f'<p align="center">{table.year}年度</p>')
        page.append(_html_grid(spec))
        page.append("<p>&nbsp;</p>")
    page.append(_PAGE_TAIL)
    out.write_bytes("\n".join(page).encode("gb18030"))
    return out


# ---------------------------------------------------------------- Word


def render_docx(tables: Sequence[Table], out: Path) -> Path:
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    document = docx.Document()
    document.core_properties.author = "perfsearch"
    document.core_properties.created = FIXED_TIME
    document.core_properties.modified = FIXED_TIME
    document.core_properties.last_modified_by = "perfsearch"
    document.core_properties.revision = 1
    for i, table in enumerate(tables):
        if i:
            document.add_paragraph("")
        p = document.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = p.add_run(default_title(table))
        run.bold = True
        run.font.size = Pt(16)
        if table.year is not None:
            y = document.add_paragraph(f"{table.year}年度")
            y.alignment = WD_ALIGN_PARAGRAPH.CENTER
        spec, _cols = build_grid(table)
        t = document.add_table(rows=spec.nrows, cols=spec.ncols)
        t.style = "Table Grid"
        for r, row in enumerate(spec.values):
            for c, value in enumerate(row):
                text = _text(value)
                if text:
                    t.cell(r, c).text = text
        for c0, r0, c1, r1 in spec.spans:
            merged = t.cell(r0, c0).merge(t.cell(r1, c1))
            merged.text = _text(spec.values[r0][c0])
    document.add_paragraph("填报人：财务科　　联系电话：0797-8381234")
    document.save(str(out))
    _normalize_xlsx(out)  # fixed zip timestamps (works for any OOXML package)
    return out


def convert_with_soffice(src: Path, target: str, out: Path) -> Path:
    """``soffice --convert-to`` into ``out`` (private profile, as ``indexer.office`` does)."""
    from indexer.office import soffice_path

    soffice = soffice_path()
    if soffice is None:
        raise RuntimeError("生成 .doc 需要 LibreOffice：apt-get install -y libreoffice-writer-nogui")
    with tempfile.TemporaryDirectory(prefix="perfsearch-corpus-") as tmp:
        tmpdir = Path(tmp)
        cmd = [soffice, f"-env:UserInstallation={(tmpdir / 'profile').as_uri()}", "--headless",
               "--norestore", "--convert-to", target, "--outdir", str(tmpdir), str(src)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=300)
        produced = tmpdir / f"{src.stem}.{target.split(':')[0]}"
        out.write_bytes(produced.read_bytes())
    return out


def render_doc(tables: Sequence[Table], out: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix="perfsearch-corpus-") as tmp:
        docx_path = render_docx(tables, Path(tmp) / f"{out.stem}.docx")
        return convert_with_soffice(docx_path, "doc:MS Word 97", out)


# ---------------------------------------------------------------- old Excel


def render_xls(sheets: Sequence[tuple[str, Sequence[Table]]], out: Path) -> Path:
    """An Excel 97-2003 workbook, one sheet per ``(name, tables)``, merged label cells, borders."""
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    grid_style = xlwt.easyxf(
        "borders: left thin, right thin, top thin, bottom thin; alignment: horiz center, vert center, wrap on"
    )
    title_style = xlwt.easyxf("font: bold on, height 280; alignment: horiz center")
    year_style = xlwt.easyxf("alignment: horiz center")
    for name, tables in sheets:
        ws = wb.add_sheet(name)
        row = 0
        for i, table in enumerate(tables):
            if i:
                row += 1
            spec, _cols = build_grid(table)
            ws.write_merge(row, row, 0, spec.ncols - 1, default_title(table), title_style)
            row += 1
            if table.year is not None:
                ws.write_merge(row, row, 0, spec.ncols - 1, f"{table.year}年度", year_style)
                row += 1
            starts, covered = _span_map(spec)
            for r, values in enumerate(spec.values):
                for c, value in enumerate(values):
                    if (r, c) in covered:
                        continue
                    rs, cs = starts.get((r, c), (1, 1))
                    cell: object = float(value) if isinstance(value, (int, float)) else _text(value)
                    if rs > 1 or cs > 1:
                        ws.write_merge(row + r, row + r + rs - 1, c, c + cs - 1, cell, grid_style)
                    else:
                        ws.write(row + r, c, cell, grid_style)
            row += spec.nrows
        for c in range(8):
            ws.col(c).width = 256 * (40 if c == 3 else 14)
    wb.save(str(out))
    return out


# ---------------------------------------------------------------- scans


def _rng(seed: int):
    import numpy as np

    return np.random.default_rng(seed)


def _scan_page(img, seed: int, angle: float):
    """A scanner's view: grey, slightly rotated, speckle and a little blur."""
    import numpy as np
    from PIL import Image, ImageFilter

    grey = img.convert("L").rotate(angle, resample=Image.BICUBIC, expand=False, fillcolor=255)
    arr = np.asarray(grey, dtype=np.float32)
    rng = _rng(seed)
    arr = arr + rng.normal(0, 12, arr.shape)
    speckle = rng.random(arr.shape) < 0.0015
    arr[speckle] = rng.uniform(0, 120, int(speckle.sum()))
    arr = np.clip(arr * 0.97 + 6, 0, 255).astype(np.uint8)
    return Image.fromarray(arr).filter(ImageFilter.GaussianBlur(0.4))


def _pdftoppm(pdf: Path, dpi: int, outdir: Path) -> list[Path]:
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(outdir / "p")], check=True, timeout=300)
    return sorted(outdir.glob("p-*.png"))


def render_scan(source_pdf: Path, out: Path, dpi: int = 150) -> Path:
    """An image-only PDF of ``source_pdf``: 150 dpi, rotated ±0.6-0.8°, noisy."""
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="perfsearch-scan-") as tmp:
        pages = []
        for i, png in enumerate(_pdftoppm(source_pdf, dpi, Path(tmp))):
            with Image.open(png) as im:
                pages.append(_scan_page(im, seed=100 + i, angle=(0.8 if i % 2 == 0 else -0.6)))
        pages[0].save(out, "PDF", resolution=float(dpi), save_all=True, append_images=pages[1:],
                      creationDate=FIXED_TIME.timetuple(), modDate=FIXED_TIME.timetuple(), producer="perfsearch", creator="perfsearch")
    return out


def render_photo(table: Table, out: Path) -> Path:
    """A phone photo of one printed table: tilted 2°, perspective, uneven light, soft focus, noise."""
    import numpy as np
    from PIL import Image, ImageFilter

    with tempfile.TemporaryDirectory(prefix="perfsearch-photo-") as tmp:
        pdf = render_pdf([table], Path(tmp) / "t.pdf")
        png = _pdftoppm(pdf, 200, Path(tmp))[0]
        with Image.open(png) as im:
            page = im.convert("L")
    w, h = page.size
    # keep the upper part of the page where the table is
    arr = np.asarray(page)
    ink_rows = np.where(arr.min(axis=1) < 128)[0]
    bottom = min(h, int(ink_rows.max()) + 60) if len(ink_rows) else h
    page = page.crop((0, 0, w, bottom))
    w, h = page.size
    # perspective: the top edge a little narrower than the bottom edge
    d = w * 0.02
    coeffs = _perspective_coeffs([(d, 0), (w - d, 0), (w, h), (0, h)], [(0, 0), (w, 0), (w, h), (0, h)])
    page = page.transform((w, h), Image.PERSPECTIVE, coeffs, Image.BICUBIC, fillcolor=255)
    page = page.rotate(-2.0, resample=Image.BICUBIC, expand=True, fillcolor=255)
    arr = np.asarray(page, dtype=np.float32)
    yy, xx = np.mgrid[0 : arr.shape[0], 0 : arr.shape[1]]
    light = 0.78 + 0.22 * (xx / arr.shape[1]) * (1 - 0.3 * yy / arr.shape[0])
    arr = arr * light + (1 - light) * 40
    rng = _rng(7)
    arr = np.clip(arr + rng.normal(0, 9, arr.shape), 0, 255).astype(np.uint8)
    img = Image.fromarray(arr).filter(ImageFilter.GaussianBlur(0.8)).convert("RGB")
    # a warm colour cast like indoor light
    r, g, b = img.split()
    img = Image.merge("RGB", (r.point(lambda v: min(255, int(v * 1.03))), g, b.point(lambda v: int(v * 0.9))))
    img.save(out, "PNG", optimize=False)
    return out


def _perspective_coeffs(src: Sequence[tuple[float, float]], dst: Sequence[tuple[float, float]]) -> list[float]:
    import numpy as np

    a = []
    b = []
    for (x, y), (u, v) in zip(dst, src):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        b.extend([u, v])
    return list(np.linalg.solve(np.array(a, dtype=float), np.array(b, dtype=float)))


# ---------------------------------------------------------------- corpus


def seed_tables(corpus_dir: Path, seed: str, which: slice = slice(None)) -> list[Table]:
    from indexer.ingest import parse_file

    doc = parse_file(corpus_dir / seed)
    tables = list(doc.tables)[which]
    if not tables:
        raise RuntimeError(f"{seed}: 没有解析出任何绩效目标表")
    return tables


def build_formats_corpus(
    corpus_dir: Path = CORPUS_DIR,
    out_dir: Path | None = None,
    *,
    ocr: bool = True,
    doc: bool = True,
    ocr_dir: Path | None = None,
) -> list[Path]:
    out_dir = out_dir or corpus_dir
    ocr_dir = ocr_dir or (OCR_DIR if out_dir == corpus_dir else out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ocr_dir.mkdir(parents=True, exist_ok=True)
    written = [
        render_html(seed_tables(corpus_dir, SEED_HTML), out_dir / HTML_NAME),
        render_docx(seed_tables(corpus_dir, SEED_WORD), out_dir / DOCX_NAME),
    ]
    if doc:
        written.append(render_doc(seed_tables(corpus_dir, SEED_DOC), out_dir / DOC_NAME))
    t003 = seed_tables(corpus_dir, SEED_XLS)
    written.append(render_xls([("部门整体", t003[:1]), ("项目支出", t003[1:])], out_dir / XLS_NAME))
    if ocr:
        written.append(render_scan(corpus_dir / SCAN_SOURCE, ocr_dir / SCAN_NAME))
        written.append(render_photo(seed_tables(corpus_dir, SEED_PHOTO, OCR_JOBS[1][2])[0], ocr_dir / PHOTO_NAME))
    for p in written:
        log.info("wrote %s", p)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="从 corpus/*.txt 生成网页、Word、旧版 Excel、扫描件语料文件")
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR, help="种子文本所在目录")
    parser.add_argument("--out", type=Path, default=None, help="输出目录（默认与 --corpus 相同）")
    parser.add_argument("--ocr-out", type=Path, default=None, help="扫描件与照片的输出目录（默认 corpus/scans/）")
    parser.add_argument("--no-ocr", action="store_true", help="不生成扫描件与照片")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        for path in build_formats_corpus(args.corpus, args.out, ocr=not args.no_ocr, ocr_dir=args.ocr_out):
            print(path)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
