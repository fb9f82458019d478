"""Mutation run: thousands of damaged documents through the real parser, counting the outcomes.

Usage::

    python scripts/mutation_run.py --n 3000 --seed 1 [--timeout 60] [--keep DIR]

Seeds are the corpus text files, the same tables as xlsx workbooks, and PDFs
rendered from them.  Each mutant (flipped / inserted / deleted bytes,
truncation, spliced seeds, re-encoding to GBK/Big5/UTF-16 without BOM, a
40k-character cell, 2,000-cell rows, a formatted cell at XFD1048576, a
non-UTF-8 file name ...) is parsed in a worker process by
``indexer.ingest.parse_file`` (in-process there, with the real per-file time
budget).  The parent gives each file ``--timeout`` seconds and restarts the
worker when it does not answer.

Printed: counts of ``ok`` (a Document), ``typed`` (``IngestError``, i.e. one
Chinese line for the user), ``traceback`` (any other exception) and ``hang``;
a few examples of each non-ok outcome.  ``--keep DIR`` saves the mutants that
gave a traceback or hang.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing as mp
import os
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------- seeds


def text_seeds() -> list[tuple[str, bytes]]:
    out = []
    for p in sorted((ROOT / "corpus").iterdir()):
        if p.suffix in (".txt", ".csv", ".md"):
            out.append((p.name, p.read_bytes()))
    return out


def xlsx_from_text(text: str) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    for line in text.splitlines():
        ws.append(line.split("\t"))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def pdf_seeds(tmp: Path) -> list[tuple[str, bytes]]:
    from indexer.ingest import parse_file
    from scripts import make_corpus as mc

    out = []
    for name in ("003_be79a3bdad299845.txt", "other_bracket_list_2024.txt"):
        doc = parse_file(ROOT / "corpus" / name)
        pdf = mc.render_pdf(doc.tables[:1], tmp / (name + ".pdf"))
        out.append((Path(name).stem + ".pdf", pdf.read_bytes()))
    return out


# ---------------------------------------------------------------- mutations


def _flip(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 5, 20))):
        if b:
            b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b)


def _insert(rng: random.Random, data: bytes) -> bytes:
    i = rng.randrange(len(data) + 1)
    junk = bytes(rng.randrange(256) for _ in range(rng.choice((1, 3, 16, 200))))
    return data[:i] + junk + data[i:]


def _delete(rng: random.Random, data: bytes) -> bytes:
    if len(data) < 4:
        return data
    i = rng.randrange(len(data))
    return data[:i] + data[i + rng.choice((1, 2, 50, 500)):]


def _truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def _duplicate(rng: random.Random, data: bytes) -> bytes:
    i = rng.randrange(len(data) + 1)
    j = min(len(data), i + rng.choice((10, 100, 1000)))
    return data[:j] + data[i:j] * rng.choice((2, 10)) + data[j:]


MUTATORS = [_flip, _flip, _flip, _insert, _delete, _truncate, _duplicate]


def mutate_text(rng: random.Random, name: str, data: bytes, seeds: list[tuple[str, bytes]]) -> tuple[str, bytes]:
    kind = rng.random()
    text = data.decode("utf-8", "replace")
    if kind < 0.08:
        enc = rng.choice(("gb18030", "big5", "utf-16-le", "utf-16-be", "utf-16"))
        data = text.encode(enc, "replace")
    elif kind < 0.12:
        lines = text.splitlines()
        i = rng.randrange(len(lines))
        lines[i] += "\t" + "".join(rng.choice("绩效目标完成率满意度项目资金") for _ in range(40000))
        data = "\n".join(lines).encode()
    elif kind < 0.15:
        lines = text.splitlines()
        lines.insert(rng.randrange(len(lines)), "\t".join(str(i) for i in range(2000)))
        data = "\n".join(lines).encode()
    elif kind < 0.20:
        other = rng.choice(seeds)[1]
        i, j = rng.randrange(len(data) + 1), rng.randrange(len(other) + 1)
        data = data[:i] + other[j:]
    for _ in range(rng.choice((1, 1, 2, 3))):
        data = rng.choice(MUTATORS)(rng, data)
    suffix = rng.choice((".txt", ".txt", ".txt", ".csv", ".md", ".text"))
    return Path(name).stem + suffix, data


def mutate_xlsx(rng: random.Random, name: str, data: bytes) -> tuple[str, bytes]:
    import zipfile

    kind = rng.random()
    if kind < 0.15:
        import openpyxl
        from openpyxl.styles import PatternFill

        wb = openpyxl.load_workbook(io.BytesIO(data))
        ws = wb.active
        ref = rng.choice(("XFD1048576", "AZ20000", "ZZ5"))
        ws[ref].fill = PatternFill("solid", fgColor="FFFF00")
        buf = io.BytesIO()
        wb.save(buf)
        return name, buf.getvalue()
    if kind < 0.6:
        # mutate one member of the zip, keep the container valid
        src = zipfile.ZipFile(io.BytesIO(data))
        members = {n: src.read(n) for n in src.namelist()}
        target = rng.choice(sorted(members))
        members[target] = rng.choice(MUTATORS)(rng, members[target])
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for n, b in members.items():
                z.writestr(n, b)
        suffix = ".txt" if rng.random() < 0.05 else ".xlsx"
        return Path(name).stem + suffix, buf.getvalue()
    return name, rng.choice(MUTATORS)(rng, data)


def mutate_pdf(rng: random.Random, name: str, data: bytes) -> tuple[str, bytes]:
    out = data
    for _ in range(rng.choice((1, 1, 2, 4))):
        m = rng.choice(MUTATORS)
        if m is _truncate and rng.random() < 0.7:
            continue  # truncation is caught by the %%EOF check; keep most mutants deep
        out = m(rng, out)
    return name, out


# ---------------------------------------------------------------- worker


def _worker(conn) -> None:
    import logging

    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("pdfminer").setLevel(logging.CRITICAL)
    from indexer.ingest import parse_file
    from indexer.model import IngestError

    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        path, name = job
        t0 = time.perf_counter()
        try:
            doc = parse_file(Path(path), name)
            result = ("ok", f"{len(doc.rows)} rows", "")
        except IngestError as exc:
            result = ("typed", exc.message, "")
        except BaseException as exc:  # noqa: BLE001 - counted as a traceback
            result = ("traceback", f"{type(exc).__name__}: {exc}"[:300], traceback.format_exc()[-2000:])
        conn.send((*result, time.perf_counter() - t0))


class Runner:
    def __init__(self, timeout: float):
        self.timeout = timeout
        self.ctx = mp.get_context("fork")
        self._start()

    def _start(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child,), daemon=True)
        self.proc.start()

    def run(self, path: Path, name: str) -> tuple[str, str, str, float]:
        self.conn.send((str(path), name))
        if self.conn.poll(self.timeout):
            try:
                return self.conn.recv()
            except EOFError:
                pass
            self.proc.join()
            self._start()
            return ("traceback", f"worker died (exit code {self.proc.exitcode})", "", 0.0)
        self.proc.kill()
        self.proc.join()
        self._start()
        return ("hang", f"no answer within {self.timeout:g} s", "", self.timeout)

    def close(self) -> None:
        self.conn.close()
        self.proc.join(timeout=5)


# ---------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per file before it counts as a hang")
    ap.add_argument("--pdf-share", type=float, default=0.15)
    ap.add_argument("--xlsx-share", type=float, default=0.15)
    ap.add_argument("--keep", type=Path, default=None)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="perfsearch-mutants-"))
    texts = text_seeds()
    xlsxs = [(Path(n).stem + ".xlsx", xlsx_from_text(d.decode("utf-8", "replace"))) for n, d in texts[:5]]
    pdfs = pdf_seeds(tmp)
    runner = Runner(args.timeout)
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    by_format: Counter[tuple[str, str]] = Counter()
    examples: dict[str, list[str]] = {}
    slowest: list[tuple[float, str]] = []
    t_start = time.perf_counter()
    try:
        for i in range(args.n):
            r = rng.random()
            if r < args.pdf_share:
                fmt, (name, data) = "pdf", mutate_pdf(rng, *rng.choice(pdfs))
            elif r < args.pdf_share + args.xlsx_share:
                fmt, (name, data) = "xlsx", mutate_xlsx(rng, *rng.choice(xlsxs))
            else:
                fmt, (name, data) = "text", mutate_text(rng, *rng.choice(texts), texts)
            fname = f"m{i:05d}_{name}"
            if rng.random() < 0.03:  # a GBK file name as unzipped from a Windows zip
                raw = ("绩效目标" + fname).encode("gbk")
                path = Path(os.fsdecode(os.path.join(os.fsencode(str(tmp)), raw)))
            else:
                path = tmp / fname
            path.write_bytes(data)
            from indexer.decode import display_name

            outcome, detail, tb, seconds = runner.run(path, display_name(path.name))
            counts[outcome] += 1
            if outcome == "typed":
                reasons[detail.split("：", 1)[-1][:48]] += 1
            by_format[(fmt, outcome)] += 1
            slowest = sorted([*slowest, (seconds, f"{fmt} {fname}")], reverse=True)[:5]
            if outcome != "ok":
                examples.setdefault(outcome, [])
                if len(examples[outcome]) < 6:
                    examples[outcome].append(f"{fname}: {detail}" + (f"\n{tb}" if tb else ""))
            if outcome in ("traceback", "hang") and args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, args.keep / fname)
            path.unlink()
            if (i + 1) % 250 == 0:
                print(f"[{i + 1}/{args.n}] {dict(counts)} {time.perf_counter() - t_start:.0f}s", flush=True)
    finally:
        runner.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\ndocuments: {sum(counts.values())}  seed: {args.seed}  time: {time.perf_counter() - t_start:.0f}s")
    for k in ("ok", "typed", "traceback", "hang"):
        print(f"  {k:10s} {counts.get(k, 0)}")
    print("by format:", {f"{f}/{o}": n for (f, o), n in sorted(by_format.items())})
    print("typed reasons:")
    for reason, n in reasons.most_common(12):
        print(f"  {n:5d}  {reason}")
    print("slowest:", [f"{s:.1f}s {n}" for s, n in slowest])
    for k in ("typed", "traceback", "hang"):
        for ex in examples.get(k, []):
            print(f"--- {k}: {ex}")
    return 1 if counts.get("traceback") or counts.get("hang") else 0


if __name__ == "__main__":
    raise SystemExit(main())
