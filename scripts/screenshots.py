"""Refresh the README screenshots (docs/screenshots/*.png, one per tab of the web interface).

Runs the browser tests (tests/test_ui_browser.py: a real ``perfsearch serve`` in headless
Chromium) with ``PERFSEARCH_SCREENSHOTS`` set, so the screenshots of the passing steps are
copied into docs/screenshots/:

    .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="用浏览器测试重新生成 README 截图（docs/screenshots/）")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="截图输出目录")
    args = parser.parse_args(argv)
    env = {**os.environ, "PERFSEARCH_SCREENSHOTS": str(args.out.resolve())}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:warnings", str(ROOT / "tests" / "test_ui_browser.py")]
    code = subprocess.call(cmd, cwd=ROOT, env=env)
    if code == 0:
        for p in sorted(args.out.glob("*.png")):
            print(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
