"""Make the report screenshots in docs/img/ from three CLI runs on the synthetic ICU table.

Usage: python scripts/report_screenshots.py [--work DIR] [--no-shots]

Runs, with the `fusiondp` command line exactly as a user would:

1. the synthetic ICU table (`fusiondp.data.synthetic.make_icu`, seed 0) written as CSV files;
2. `fusiondp impute` (hybrid + imputation quality cross-fitted on the support set) for the binary
   target `mortality` and for the 3-class target `admit` (ED / OR / transfer);
3. `fusiondp train` of `fusiondp` on each target and of `sgd_ori` on the binary one, then
   `fusiondp report --imputation-quality` for each run;
4. headless Chromium screenshots of the three pages: docs/img/report_binary.png,
   report_multiclass.png and report_sgd_ori.png (skipped with --no-shots or when Chromium is absent).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ["--epochs", "8", "--batch-size", "256", "--public-batch-size", "1024", "--lr", "0.3", "--clip", "2",
         "--alpha", "1", "--epsilon", "2", "--no-progress"]
RUNS = {  # name -> (target, method)
    "binary": ("mortality", "fusiondp"),
    "multiclass": ("admit", "fusiondp"),
    "sgd_ori": ("mortality", "sgd_ori"),
}
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                  "--window-size=1200,2400"]


def fusiondp(*args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    print("$ fusiondp " + " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "fusiondp", *args], check=True, env=env)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default=str(ROOT / "runs" / "screenshots"), help="folder for data and reports")
    ap.add_argument("--no-shots", action="store_true", help="only write the HTML reports")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT / "src"))
    from fusiondp.data.synthetic import make_icu

    data = make_icu(n_train=3000, n_support=600, n_val=800, n_test=1500, seed=0)
    for name, frame in data.frames.items():
        frame.to_csv(work / f"{name}.csv", index=False)
    sensitive = ",".join(data.sensitive)
    pages = {}
    for target in sorted({t for t, _ in RUNS.values()}):
        fusiondp("impute", "--train", str(work / "train.csv"), "--support", str(work / "support.csv"),
                 "--target", target, "--sensitive", sensitive, "--drop", "stay_id", "--out",
                 str(work / f"hybrid_{target}.csv"), "--quality-out", str(work / f"quality_{target}.json"),
                 "--no-progress")
    for name, (target, method) in RUNS.items():
        report = work / f"{name}.json"
        fusiondp("train", "--train", str(work / "train.csv"), "--hybrid", str(work / f"hybrid_{target}.csv"),
                 "--val", str(work / "val.csv"), "--test", str(work / "test.csv"), "--target", target,
                 "--sensitive", sensitive, "--drop", "stay_id", "--method", method, "--report", str(report), *TRAIN)
        pages[name] = work / f"{name}.html"
        # sgd_ori never reads the hybrid table, so its page has no imputation-quality section.
        quality = [] if method == "sgd_ori" else ["--imputation-quality", str(work / f"quality_{target}.json")]
        fusiondp("report", str(report), *quality, "--out", str(pages[name]))
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if args.no_shots or chromium is None:
        print("screenshots skipped" + ("" if args.no_shots else " (no chromium on PATH)"))
        return
    for name, page in pages.items():
        png = ROOT / "docs" / "img" / f"report_{name}.png"
        subprocess.run([chromium, *CHROMIUM_FLAGS, f"--screenshot={png}", page.resolve().as_uri()], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"wrote {png}")


if __name__ == "__main__":
    main()
