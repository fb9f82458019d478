"""Scanned PDFs and photos: OCR + ruling-line grid give the rows of the text version, doubtful rows reported.

The full OCR runs are marked ``slow`` (tens of seconds per page on 2 cores).
OCR output cannot show whether a value was typed as ``≥10 次`` or ``≥10次``, nor
a half- or full-width colon, so rows are compared after dropping whitespace and
folding full-width forms; everything else (levels, names, values) must match.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from indexer.extract_ocr import (
    REASON_NO_OCR,
    OcrWorker,
    deskew,
    estimate_skew,
    find_tables,
    load_image,
    repair_value,
    suspicious_chars,
)
from indexer.model import IngestError
from indexer.normalize import fold_width
from scripts.make_corpus_formats import OCR_DIR, OCR_JOBS, PHOTO_NAME, SCAN_NAME
from tests.conftest import CORPUS, parsed


def loose_key(r) -> tuple[str, ...]:
    return tuple(
        re.sub(r"\s+", "", fold_width(x))
        for x in (r.function, r.level1, r.level2, r.task, r.name, r.half_year, r.value)
    )


def flagged_rows(doc) -> list[str]:
    return [w for w in doc.warnings if w.startswith("第")]


@pytest.mark.parametrize(
    ("value", "repaired"),
    [
        ("1O0%", "100%"),
        ("9l%", "91%"),
        (">=90%", "≥90%"),
        ("<=300", "≤300"),
        ("≥95%", "≥95%"),
        ("O", "O"),  # no real digit: not a number we can be sure of
        ("按时完成", "按时完成"),
        ("l0次", "l0次"),  # a unit other than % is outside the grammar we repair
        ("≥9.次", "≥9次"),  # a period with no digit after it is no decimal point
        ("≥90%.", "≥90%"),
        ("1.5", "1.5"),
        ("第1.条", "第1.条"),
    ],
)
def test_value_repair_only_where_certain(value, repaired):
    assert repair_value(value)[0] == repaired


def test_confusable_characters_are_flagged_not_changed():
    assert suspicious_chars("项自资金发挥率") == [("项自", "项目")]
    assert suspicious_chars("末来发展规划") == [("末来", "未来")]
    for fine in ("项目资金发挥率", "自主创新能力", "学生满意度", "按时完成率", "入学率", "人员经费"):
        assert suspicious_chars(fine) == []


def test_known_labels_are_repaired_from_one_confusable_character():
    from indexer.extract_ocr import repair_label

    assert repair_label("年度绩效自标") == "年度绩效目标"
    assert repair_label("项自名称") == "项目名称"
    for text in ("年度绩效目标", "数量指标", "学生满意度", "项自资金发挥率"):
        assert repair_label(text) == text


def test_models_ship_with_the_wheel():
    """Nothing is downloaded: the three ONNX models are files inside the installed package."""
    import rapidocr_onnxruntime

    models = Path(rapidocr_onnxruntime.__file__).parent / "models"
    names = {p.name for p in models.glob("*.onnx")}
    assert {"ch_PP-OCRv4_det_infer.onnx", "ch_PP-OCRv4_rec_infer.onnx"} <= names


def test_skew_of_the_scan_is_measured_and_undone():
    gray = load_image(OCR_DIR / PHOTO_NAME)
    angle = estimate_skew(gray)
    assert 1.7 < angle < 2.3  # the photo is turned by 2° (plus perspective)
    fixed, undone = deskew(gray)
    assert undone == angle and abs(estimate_skew(fixed)) < 0.2


def test_grid_from_ruling_lines_of_the_photo():
    fixed, _ = deskew(load_image(OCR_DIR / PHOTO_NAME))
    (table,) = find_tables(fixed)
    # 4 columns (一级 / 二级 / 三级 / 指标值), 15 ruled rows; merged cells: 项目资金 and 产出指标
    # over 4 rows, 数量指标 and 时效指标 over 2, the long text rows over 3 columns
    assert len(table.xs) - 1 == 4 and len(table.ys) - 1 == 15
    spans = sorted((g.r1 - g.r0, g.c1 - g.c0) for g in table.regions if (g.r1 - g.r0, g.c1 - g.c0) != (1, 1))
    assert spans == [(1, 2)] * 4 + [(1, 3)] * 3 + [(2, 1)] * 2 + [(4, 1)] * 2


def test_page_timeout_stops_with_a_clear_message():
    import numpy as np

    page = np.full((2000, 1400), 255, dtype=np.uint8)
    with OcrWorker(timeout=0.01) as worker, pytest.raises(IngestError) as info:
        worker.run(page, "扫描件.pdf", 3)
    msg = info.value.message
    assert msg.startswith("扫描件.pdf 第3页：OCR 识别超时（单页超过 0.01 秒）")
    assert "PERFSEARCH_OCR_PAGE_TIMEOUT" in msg


def test_missing_ocr_component_is_explained(tmp_path, monkeypatch):
    import indexer.extract_ocr as ocr
    from indexer.ingest import parse_file

    monkeypatch.setattr(ocr, "ocr_available", lambda: False)
    p = tmp_path / "照片.png"
    p.write_bytes((OCR_DIR / PHOTO_NAME).read_bytes())
    with pytest.raises(IngestError) as info:
        parse_file(p)
    assert info.value.reason == REASON_NO_OCR and "pip install rapidocr_onnxruntime" in info.value.reason


def _compare(seed: str, name: str, which: slice):
    text_rows = [r for t in list(parsed(CORPUS / seed).tables)[which] for r in t.rows]
    doc = parsed(OCR_DIR / name)
    assert len(doc.rows) == len(text_rows)
    exact = [loose_key(a) == loose_key(b) for a, b in zip(text_rows, doc.rows)]
    return doc, text_rows, exact


@pytest.mark.slow
def test_scanned_pdf_rows_match_text_version_and_doubts_are_reported():
    seed, name, which = next(j for j in OCR_JOBS if j[1] == SCAN_NAME)
    doc, text_rows, exact = _compare(seed, name, which)
    assert doc.fmt == "pdf" and doc.warnings[0].startswith("本文件由 OCR 识别")
    assert sum(exact) / len(exact) >= 0.95
    # every row that is not exact is named in the parse report (never silently wrong)
    flagged = " ".join(flagged_rows(doc))
    for ok, r in zip(exact, doc.rows):
        if not ok:
            assert r.name[:10] in flagged, r.name
    # citations: page and a box in PDF points on an A4 page, like a text PDF
    assert {r.source.page for r in doc.rows} == {1, 2}
    for r in doc.rows:
        x0, top, x1, bottom = r.source.bbox
        assert 0 <= x0 < x1 <= 596 and 0 <= top < bottom <= 842
    t, d = doc.tables[0], parsed(CORPUS / seed).tables[0]
    assert (t.kind, t.unit, t.year, t.total_budget_wan) == (d.kind, d.unit, d.year, d.total_budget_wan)


@pytest.mark.slow
def test_phone_photo_rows_match_text_version():
    seed, name, which = next(j for j in OCR_JOBS if j[1] == PHOTO_NAME)
    doc, text_rows, exact = _compare(seed, name, which)
    assert all(exact), [loose_key(r) for ok, r in zip(exact, doc.rows) if not ok]
    t, d = doc.tables[0], list(parsed(CORPUS / seed).tables)[which][0]
    assert (t.kind, t.project, t.unit, t.total_budget_wan) == (d.kind, d.project, d.unit, d.total_budget_wan)
    assert {r.source.page for r in doc.rows} == {1}


def test_scan_with_a_watermark_text_layer_is_still_ocred(tmp_path):
    """Scanner apps stamp a line of real text on image pages; that is not a text layer holding the table."""
    from PIL import Image
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    from indexer.extract_pdf import extract_pdf
    from indexer.formats import _looks_scanned
    from scripts.make_corpus import register_cjk_font

    img = tmp_path / "page.png"
    Image.new("L", (600, 800), 255).save(img)
    pdf = tmp_path / "stamped.pdf"
    c = canvas.Canvas(str(pdf), pagesize=A4, invariant=1)
    c.drawImage(str(img), 0, 0, width=A4[0], height=A4[1])
    c.setFont(register_cjk_font(), 9)
    c.drawString(400, 20, "扫描全能王 创建")
    c.showPage()
    c.save()
    assert _looks_scanned(pdf, extract_pdf(pdf))
    text_pdf = CORPUS / "pdf_004_huangyuan_2024.pdf"
    assert not _looks_scanned(text_pdf, extract_pdf(text_pdf))
