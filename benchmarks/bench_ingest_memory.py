"""Peak memory per input line of ``parse_file`` on a large text (issue 16: memory per row).

    python benchmarks/bench_ingest_memory.py [--copies 100]

Builds a text of ``--copies`` renamed copies of a seed table (26,500 lines for
100 copies) and prints the traced peak allocation during ``parse_file`` per
input line.  Run it with ``PYTHONPATH`` pointing at another checkout to compare
two versions of the code on the same machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "003_be79a3bdad299845.txt"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=100)
    args = ap.parse_args()
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))
    from indexer.ingest import parse_file

    seed = SEED.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "big.txt"
        p.write_text("\n".join(seed.replace("2023", str(1000 + i)) for i in range(args.copies)), encoding="utf-8")
        lines = p.read_text(encoding="utf-8").count("\n") + 1
        tracemalloc.start()
        t = time.perf_counter()
        doc = parse_file(p)
        seconds = time.perf_counter() - t
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"{p.stat().st_size / 1e6:.1f} MB, {lines} lines, {len(doc.rows)} indicator rows: "
            f"peak {peak / 1e6:.1f} MB = {peak / lines:.0f} B per line; "
            f"document kept {current / 1e6:.1f} MB; {seconds:.1f} s (traced)"
        )


if __name__ == "__main__":
    main()
