"""OCR throughput and memory: scanned PDF pages per minute, against the text PDF of the same pages.

    .venv/bin/python benchmarks/bench_ocr.py [--repeat 1] [--dpi 200]

Reads ``corpus/scans/scan_004_huangyuan_2024.pdf`` (2 pages, 150-dpi scan) through the
whole ingestion path (``parse_file``: render, deskew, ruling lines, OCR, layout)
and, as the baseline measured in the same run, the text PDF it was made from
(``corpus/pdf_004_huangyuan_2024.pdf``).  Prints pages per minute for both, the
ratio, seconds per page, the peak resident memory of the OCR worker process and
of this process, and the machine's load so figures can be compared.  No assertions.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SCAN = ROOT / "corpus" / "scans" / "scan_004_huangyuan_2024.pdf"
TEXT = ROOT / "corpus" / "pdf_004_huangyuan_2024.pdf"


def _pages(path: Path) -> int:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        return len(pdf)
    finally:
        pdf.close()


def _timed(path: Path, repeat: int) -> tuple[float, int]:
    from indexer.ingest import parse_file

    best = float("inf")
    rows = 0
    for _ in range(repeat):
        t = time.perf_counter()
        doc = parse_file(path)
        best = min(best, time.perf_counter() - t)
        rows = len(doc.rows)
    return best, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="OCR 吞吐与内存基准")
    parser.add_argument("--repeat", type=int, default=1, help="每个文件重复次数（取最快一次）")
    parser.add_argument("--dpi", type=int, default=None, help="扫描件渲染分辨率（默认 indexer.extract_ocr.OCR_DPI）")
    args = parser.parse_args(argv)
    import indexer.extract_ocr as ocr

    if args.dpi:
        ocr.OCR_DPI = args.dpi
        ocr.extract_scanned_pdf.__defaults__ = (args.dpi,)
    load = os.getloadavg()[0]
    print(f"OCR 基准：{os.cpu_count()} 个 CPU，开始时 1 分钟负载 {load:.1f}，渲染分辨率 {ocr.OCR_DPI} dpi")
    n = _pages(SCAN)
    text_s, text_rows = _timed(TEXT, args.repeat)
    scan_s, scan_rows = _timed(SCAN, args.repeat)
    worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    text_ppm = n / text_s * 60
    scan_ppm = n / scan_s * 60
    print(f"{'文件':<34}{'页':>4}{'指标行':>8}{'耗时(秒)':>10}{'页/分钟':>10}{'秒/页':>8}")
    print(f"{TEXT.name:<34}{n:>4}{text_rows:>8}{text_s:>10.2f}{text_ppm:>10.1f}{text_s / n:>8.2f}")
    print(f"{SCAN.name:<34}{n:>4}{scan_rows:>8}{scan_s:>10.2f}{scan_ppm:>10.1f}{scan_s / n:>8.2f}")
    print(f"OCR 相对文字层 PDF：慢 {scan_s / text_s:.0f} 倍（{scan_ppm / text_ppm:.4f}）")
    print(f"峰值常驻内存：OCR 工作进程 {worker_mb:.0f} MB，主进程 {self_mb:.0f} MB")
    print(f"结束时 1 分钟负载 {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
