"""Speed and memory of one training epoch on sepsis (METHOD.md §5 settings), measured side by side.

Cases, each run in its own subprocess so peak memory (max RSS) is per case:

* ours: `fusiondp`, `dpsgd`, `sgd_ori` through the real engine;
* opacus: Opacus DP-SGD on the same MLP (PrivacyEngine.make_private, Poisson sampling, batch 128);
* floor: a plain batched non-private step over the rows one FusionDP step touches
  (4,096 public + 2 x 128 private rows), no per-sample work;
* loop: a FusionDP step written the way the authors' code does it: per-sample gradients
  collected in Python lists, clipped and summed in loops (timed on a few steps, extrapolated).

Text model (`--suite text` or `--suite all`): Medical Abstracts, TF-IDF 2,000 features,
`TextClassifier`; seconds per epoch and peak memory of the private step (`dpsgd`, `fusiondp`, ghost
clipping) vs a plain non-private epoch (`sgd_ori`), each in its own forked process
(`fusiondp.bench.text_speed.text_speed_case`).

Flush-denormal (`--suite denormal`): the engine flushes subnormal floats to zero while it trains
(fusiondp.train.numerics). Every case of the tabular suite runs in the same floating-point mode
(`--flush-denormal`, default on, set in each case process; `--no-flush-denormal` turns it off for
all cases, engine included), so no ratio compares a flushed case with an unflushed one. The
denormal suite times the same work with the mode off and on: elementwise, matmul and sigmoid on
subnormal operands, and `sgd_ori` / `fusiondp` epochs on sepsis.

Default runs (`--suite runs`, issue 26): the wall seconds of one whole default training run (settings from
the defaults rule, ε = 2 for the private methods) of `sgd_ori`, `sgd_hybrid`, `dpsgd` and `fusiondp`, on
sepsis and on a generated 30,000-row table with about 60 encoded features (`wide30k`; `icu30k` is make_icu's
30,000 rows with 36 features, for the feature-count comparison). Each case runs in its own subprocess (data
prepared before the clock starts), the cases are interleaved over `--rounds`, and each ratio to `dpsgd` is
taken within a round (same table, same round) and its median printed, so drifting load on a shared machine
biases no case more than another. Targets: non-private <= 1.5x dpsgd, fusiondp <= 3x dpsgd.

Usage: python benchmarks/speed.py [--data-dir ../shared/data] [--epochs 2] [--threads 1] [--rounds 2]
                                  [--suite tabular|text|denormal|runs|all] [--no-flush-denormal]
                                  [--tables sepsis,wide30k] [--methods sgd_ori,sgd_hybrid,dpsgd,fusiondp]
Prints seconds per epoch, peak RSS, and the ratios the engine issue sets targets for. The cases
are interleaved over several rounds and each case's fastest epoch is kept, so load from other
processes on a shared machine biases no case more than another.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SENSITIVE = "Age,Gender,Unit1,Unit2,HospAdmTime,ICULOS"


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _prepare(data_dir: Path):
    import pandas as pd

    from fusiondp.data.schema import Schema
    from fusiondp.pipeline import prepare

    d = data_dir / "sepsis"
    schema = Schema("SepsisLabel", SENSITIVE, drop="ICULOS_bin,index")
    return prepare(pd.read_csv(d / "train_ori.csv"), pd.read_csv(d / "train_hybrid.csv"), schema).data


def case_engine(method: str, data_dir: Path, epochs: int) -> dict:
    from fusiondp.train.config import TrainConfig
    from fusiondp.train.engine import train

    data = _prepare(data_dir)
    rss = []
    res = train(method, data, config=TrainConfig(epochs=epochs, epsilon=2.0 * epochs / 13), progress=False,
                on_epoch=lambda row: rss.append(round(_rss_mb(), 1)))
    times = [h["seconds"] for h in res.history]
    per_epoch = [b - a for a, b in zip([0.0] + times[:-1], times)]
    return {"sec_per_epoch": min(per_epoch), "rss_after_each_epoch_mb": rss}


def case_opacus(data_dir: Path, epochs: int) -> dict:
    import torch
    from opacus import PrivacyEngine
    from torch.utils.data import DataLoader, TensorDataset

    from fusiondp.train.models import MLP

    data = _prepare(data_dir)
    torch.manual_seed(0)
    model = MLP(data.x.shape[1])
    opt = torch.optim.SGD(model.parameters(), lr=0.07)
    loader = DataLoader(TensorDataset(data.x, data.y), batch_size=128)
    model, opt, loader = PrivacyEngine().make_private(module=model, optimizer=opt, data_loader=loader,
                                                      noise_multiplier=1.0, max_grad_norm=1.8, poisson_sampling=True)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    per_epoch = []
    for _ in range(epochs):
        t = time.perf_counter()
        for xb, yb in loader:
            if len(xb) == 0:
                continue
            opt.zero_grad()
            loss_fn(model(xb).reshape(-1), yb).backward()
            opt.step()
        per_epoch.append(time.perf_counter() - t)
    return {"sec_per_epoch": min(per_epoch)}


def case_floor(data_dir: Path, epochs: int) -> dict:
    import torch

    from fusiondp.train.models import MLP

    data = _prepare(data_dir)
    torch.manual_seed(0)
    model = MLP(data.x.shape[1])
    opt = torch.optim.SGD(model.parameters(), lr=0.07)
    gen = torch.Generator().manual_seed(0)
    n, steps = data.n, int(data.n / 128)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    per_epoch = []
    for _ in range(epochs):
        t = time.perf_counter()
        for _ in range(steps):
            idx = torch.randint(0, n, (4096 + 256,), generator=gen)
            xb = torch.cat([data.x_hybrid[idx[:4096]], data.x[idx[4096:4224]], data.x_hybrid[idx[4224:]]])
            opt.zero_grad()
            loss_fn(model(xb).reshape(-1), data.y[idx]).backward()
            opt.step()
        per_epoch.append(time.perf_counter() - t)
    return {"sec_per_epoch": min(per_epoch)}


def case_loop(data_dir: Path, steps_timed: int = 10) -> dict:
    """FusionDP step with per-sample gradients in Python lists, as in the authors' code."""
    import torch

    from fusiondp.train.models import MLP

    data = _prepare(data_dir)
    torch.manual_seed(0)
    model = MLP(data.x.shape[1])
    params = list(model.parameters())
    loss_fn = torch.nn.BCEWithLogitsLoss()
    gen = torch.Generator().manual_seed(0)
    n, q, clip, sigma, alpha, lr = data.n, 128 / data.n, 1.8, 1.0, 3.0, 0.07
    t = time.perf_counter()
    for _ in range(steps_timed):
        idx = torch.randint(0, n, (4096,), generator=gen)
        g_pub = torch.autograd.grad(loss_fn(model(data.x_hybrid[idx]).reshape(-1), data.y[idx]), params)
        sel = (torch.rand(n, generator=gen) < q).nonzero().squeeze(1)
        grads = []
        for i in sel.tolist():
            xi, hi, yi = data.x[i:i + 1], data.x_hybrid[i:i + 1], data.y[i:i + 1]
            d = loss_fn(model(xi).reshape(-1), yi) - loss_fn(model(hi).reshape(-1), yi)
            grads.append([g.clone() for g in torch.autograd.grad(d, params)])
        summed = [torch.zeros_like(p) for p in params]
        for g in grads:
            norm = torch.sqrt(sum((gi ** 2).sum() for gi in g))
            scale = min(1.0, clip / (float(norm) + 1e-12))
            for s, gi in zip(summed, g):
                s += gi * scale
        with torch.no_grad():
            for p, gp, s in zip(params, g_pub, summed):
                noisy = (s + sigma * clip * torch.randn(s.shape, generator=gen)) / max(len(grads), 1)
                p -= lr * (gp + alpha * noisy)
    per_step = (time.perf_counter() - t) / steps_timed
    return {"sec_per_epoch": per_step * int(n / 128), "extrapolated_from_steps": steps_timed}


CASES = ["fusiondp", "dpsgd", "sgd_ori", "opacus", "floor", "loop"]
RUN_METHODS = "sgd_ori,sgd_hybrid,dpsgd,fusiondp"
RUN_TABLES = "sepsis,wide30k"


def make_wide(n: int, seed: int = 0):
    """A generated table of `n` rows: 14 numeric columns and 6 categorical ones of 8 levels (one-hot 48), so about
    60 encoded features; sensitive: x0, x1 (numeric) and c0 (categorical); label from x0-x3, c0 and c1."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    num = rng.normal(size=(n, 14))
    cats = rng.integers(0, 8, size=(n, 6))
    logit = num[:, :4] @ np.array([0.8, -0.5, 0.4, 0.3]) + 0.3 * (cats[:, 0] % 3) - 0.2 * (cats[:, 1] == 2) - 1.0
    frame = pd.DataFrame(num, columns=[f"x{i}" for i in range(14)])
    for j in range(6):
        frame[f"c{j}"] = np.array(list("abcdefgh"))[cats[:, j]]
    frame["y"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def _table_data(table: str, data_dir: Path):
    """The encoded training views of one table of the runs suite (hybrid by the 'mean' imputer for the
    generated tables: the imputer's quality does not change a step's cost)."""
    if table == "sepsis":
        # The benchmark registry's seed-0 split (hybrid imputed from the support set): the published
        # train_hybrid.csv is now refused by the missingness guard (fusiondp.data.guards), as `_prepare` shows.
        from fusiondp.bench.registry import get_dataset

        return get_dataset("sepsis").prepare(data_dir, 0).data
    from fusiondp.data.schema import Schema
    from fusiondp.impute import make_hybrid
    from fusiondp.pipeline import prepare

    if table == "wide30k":
        full = make_wide(32_000)
        schema = Schema("y", ["x0", "x1", "c0"], categorical=[f"c{j}" for j in range(6)])
        train, support = full.iloc[:30_000], full.iloc[30_000:]
    elif table == "icu30k":
        from fusiondp.data.synthetic import make_icu

        d = make_icu(n_train=30_000, n_support=2000, n_val=100, n_test=100, seed=0)
        train, support, schema = d.frames["train"], d.frames["support"], d.schema
    else:
        raise SystemExit(f"unknown table {table!r}")
    hybrid = make_hybrid(train, support, schema, imputer="mean", progress=False)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the mean imputer's collapsed columns: expected here
        return prepare(train, hybrid, schema, support_df=support).data


def case_run(table: str, method: str, data_dir: Path, max_steps: int = 0) -> dict:
    """One whole default run (the defaults rule; ε = 2 for private methods): training seconds and steps.
    With `max_steps`, the run's shape is the rule's but it stops after that many steps (epochs cut to fit)."""
    import warnings

    from fusiondp.train.config import TrainConfig
    from fusiondp.train.engine import train
    from fusiondp.train.methods import get_method

    data = _table_data(table, data_dir)
    eps = 2.0 if get_method(method).is_private else None
    cfg = TrainConfig(epsilon=eps)
    if max_steps:
        full = cfg.resolve(n_rows=data.n, n_features=int(data.x.shape[1]), method=method)
        cfg = TrainConfig(epsilon=eps, batch_size=full.batch_size, public_batch_size=full.public_batch_size,
                          lr=full.lr, optimizer=full.optimizer, radius=full.radius, clip=full.clip, alpha=full.alpha,
                          beta=full.beta, epochs=(max_steps + 0.5) * full.batch_size / data.n)
    from fusiondp.train import engine as engine_mod

    cpu = {}
    loop = engine_mod._loop

    def cpu_timed_loop(*a, **k):  # the process CPU seconds of the training steps (robust to other jobs' load)
        t = time.process_time()
        try:
            return loop(*a, **k)
        finally:
            cpu["loop"] = time.process_time() - t

    engine_mod._loop = cpu_timed_loop
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = train(method, data, config=cfg, progress=False)
    c = res.config
    return {"seconds": res.seconds, "cpu_seconds": cpu["loop"], "steps": res.steps, "features": int(data.x.shape[1]),
            "rows": data.n, "batch": c.batch_size, "public_batch": c.public_batch_size, "optimizer": c.optimizer}


def runs_suite(args) -> None:
    """Default run times side by side (see the module docstring), with per-round ratios to dpsgd."""
    import statistics

    tables = [t for t in args.tables.split(",") if t]
    methods = [m for m in args.methods.split(",") if m]
    threads = [int(t) for t in str(args.threads).split(",")]
    got: dict[tuple, list[dict]] = {}
    for rnd in range(args.rounds):
        for table in tables:
            for th in threads:
                for method in methods:
                    cmd = [sys.executable, __file__, "--case", f"run:{table}:{method}:{args.max_steps}",
                           "--data-dir", args.data_dir, "--threads", str(th)]
                    proc = subprocess.run(cmd, capture_output=True, text=True)
                    if proc.returncode != 0:
                        print(f"runs: {table} {method} failed\n{proc.stderr[-2000:]}", file=sys.stderr)
                        continue
                    r = json.loads(proc.stdout.strip().splitlines()[-1])
                    r["round"] = rnd
                    got.setdefault((table, th, method), []).append(r)
                    print(f"round {rnd + 1}: {table:8s} {th} thr {method:10s} {r['seconds']:7.1f} s (CPU "
                          f"{r['cpu_seconds']:6.1f} s)  {r['steps']:5d} steps  b={r['batch']} public={r['public_batch']} "
                          f"{r['optimizer']}  ({r['rows']} rows, {r['features']} features)", flush=True)
    print(f"\nruns: median training seconds of one default run over {args.rounds} interleaved round(s); "
          "ratio = median over rounds of (method / dpsgd in the same round); CPU: the process CPU seconds of the "
          "training steps and their ratio (the same on a loaded machine, where wall seconds are not)")
    for table in tables:
        for th in threads:
            base = {r["round"]: r["seconds"] for r in got.get((table, th, "dpsgd"), [])}
            for method in methods:
                rs = got.get((table, th, method), [])
                if not rs:
                    continue
                med = statistics.median(r["seconds"] for r in rs)
                ratios = [r["seconds"] / base[r["round"]] for r in rs if r["round"] in base]
                target = {"dpsgd": "", "fusiondp": "  (target <= 3)"}.get(method, "  (target <= 1.5)")
                ratio = f"{statistics.median(ratios):5.2f}x dpsgd{target}" if ratios and method != "dpsgd" else ""
                ms = statistics.median(1e3 * r["seconds"] / r["steps"] for r in rs)
                cpu_base = {r["round"]: r["cpu_seconds"] for r in got.get((table, th, "dpsgd"), [])}
                cpu_ratios = [r["cpu_seconds"] / cpu_base[r["round"]] for r in rs if r["round"] in cpu_base]
                cpu = (f"  CPU {statistics.median(r['cpu_seconds'] for r in rs):6.1f} s"
                       + (f" = {statistics.median(cpu_ratios):4.2f}x dpsgd" if cpu_ratios and method != "dpsgd" else ""))
                print(f"runs: {table:8s} {th} thr {method:10s} {med:7.1f} s  {rs[0]['steps']:5d} steps  "
                      f"{ms:6.1f} ms/step  {rs[0]['features']} features  {ratio}{cpu}")


def run_case(name: str, data_dir: Path, epochs: int) -> dict:
    if name.startswith("run:"):
        _, table, method, *rest = name.split(":")
        out = case_run(table, method, data_dir, int(rest[0]) if rest else 0)
    elif name in ("fusiondp", "dpsgd", "sgd_ori"):
        out = case_engine(name, data_dir, epochs)
    elif name == "opacus":
        out = case_opacus(data_dir, epochs)
    elif name == "denormal_micro":
        out = case_denormal_micro()
    elif name == "floor":
        out = case_floor(data_dir, epochs)
    else:
        out = case_loop(data_dir)
    out["peak_rss_mb"] = round(_peak_mb(), 1)
    return out


def case_denormal_micro() -> dict:
    """Seconds of elementwise, matmul and sigmoid work on subnormal (1e-39) vs normal operands."""
    import torch

    def timed(fn, reps):
        fn()
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        return (time.perf_counter() - t) / reps

    out = {}
    for label, val in (("normal", 1.0), ("subnormal", 1e-39)):
        x = torch.full((1_000_000,), val)
        a = torch.full((4096, 256), val)
        w = torch.randn(256, 256, generator=torch.Generator().manual_seed(0)) * 0.1
        z = torch.full((1_000_000,), -90.0 if val < 1 else -1.0)  # sigmoid(-90) is subnormal
        out[label] = {"elementwise": timed(lambda: x * 0.7 + x, 20), "matmul": timed(lambda: a @ w, 5),
                      "sigmoid": timed(lambda: torch.sigmoid(z), 20)}
    return out


def denormal_suite(data_dir: Path, epochs: int, threads: int) -> None:
    """The same cases with flush-denormal off and on (each in its own process)."""
    import platform

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else "?"
    print(f"denormal: CPU {cpu}, {threads} torch thread(s)")
    for name in ("denormal_micro", "sgd_ori", "fusiondp"):
        for flush in ("off", "on"):
            cmd = [sys.executable, __file__, "--case", name, "--data-dir", str(data_dir), "--epochs", str(epochs),
                   "--threads", str(threads)] + (["--no-flush-denormal"] if flush == "off" else [])
            env = {**os.environ, "FUSIONDP_FLUSH_DENORMAL": "0" if flush == "off" else "1"}
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                print(f"denormal: {name} flush {flush}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            if name == "denormal_micro":
                for label in ("normal", "subnormal"):
                    print(f"denormal: flush {flush:3s} {label:9s} operands: " +
                          "  ".join(f"{k} {v * 1e3:7.2f} ms" for k, v in r[label].items()))
            else:
                print(f"denormal: flush {flush:3s} {name:9s} {r['sec_per_epoch']:7.2f} s/epoch "
                      f"(fastest of {epochs})", flush=True)
    print()


def dropout_suite() -> None:
    """Milliseconds of CPU per dropout call (forward) on the MLP's activation shapes: torch's vs
    `fusiondp.train.models.Dropout` (issue 26, round 3), and one 19.5k-parameter secure noise draw."""
    import torch

    from fusiondp.privacy.randomness import SecureRandom
    from fusiondp.train.models import Dropout

    torch.set_num_threads(1)

    def cpu_ms(fn, reps=50):
        fn()
        t = time.process_time()
        for _ in range(reps):
            fn()
        return 1e3 * (time.process_time() - t) / reps

    ours = Dropout(0.15)
    for shape in ((1024, 64), (1024, 128), (4096, 128)):
        x = torch.randn(*shape, requires_grad=True)
        a, b = cpu_ms(lambda: torch.dropout(x, 0.15, True)), cpu_ms(lambda: ours(x))
        print(f"dropout {shape[0]}x{shape[1]}: torch {a:6.2f} ms  fusiondp {b:6.2f} ms  ({a / b:.1f}x)")
    print(f"secure noise, 19,521 parameters: {cpu_ms(lambda: SecureRandom.gaussian((19_521,)), 20):.2f} ms")


def text_suite(data_dir: Path, epochs: int) -> None:
    """Print the text model's private-step vs plain-epoch line (one torch thread)."""
    from fusiondp.bench.text_speed import text_speed_case

    rows = text_speed_case(data_dir, epochs=float(epochs))
    print(f"text model: {'case':42s} {'s/epoch':>8s} {'peak MB':>8s} {'steps':>6s}")
    for r in rows:
        print(f"text model: {r['case']:42s} {r['seconds_per_epoch']:8.2f} {r['peak_mb']:8.1f} {r['steps']:6d}")
    plain = rows[0]["seconds_per_epoch"]
    for r in rows[1:]:
        print(f"text model: {r['case']} / plain epoch = {r['seconds_per_epoch'] / plain:.1f}x time")
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("FUSIONDP_DATA", str(ROOT.parent / "shared" / "data")))
    ap.add_argument("--epochs", type=int, default=2, help="epochs per case; the fastest epoch is reported")
    ap.add_argument("--threads", default="1", help="torch threads per case (runs suite: a comma list, each a case)")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved repetitions of the whole case list")
    ap.add_argument("--tables", default=RUN_TABLES, help="runs suite: sepsis, wide30k, icu30k (comma-separated)")
    ap.add_argument("--methods", default=RUN_METHODS, help="runs suite: methods (comma-separated)")
    ap.add_argument("--max-steps", type=int, default=0, help="runs suite: stop each run after this many steps (the "
                    "rule's batch sizes and settings kept; ms/step is then the figure to compare)")
    ap.add_argument("--suite", choices=("tabular", "text", "denormal", "runs", "dropout", "all"), default="tabular",
                    help="tabular: sepsis cases; text: the Medical Abstracts text model; denormal: flush-denormal "
                         "off vs on; all: every suite")
    ap.add_argument("--flush-denormal", action=argparse.BooleanOptionalAction, default=True,
                    help="flush subnormal floats to zero in every case (the engine's training mode)")
    ap.add_argument("--case", help="one case (e.g. run:wide30k:fusiondp) in this process")
    ap.add_argument("--profile", action="store_true", help="with --case run:...: print cProfile's cumulative table")
    args = ap.parse_args()
    if args.suite == "dropout":
        dropout_suite()
        return
    if args.suite in ("runs", "all") and not args.case:
        runs_suite(args)
        if args.suite == "runs":
            return
    if not args.case:
        args.threads = int(str(args.threads).split(",")[0])
    if args.suite in ("denormal", "all") and not args.case:
        denormal_suite(Path(args.data_dir), args.epochs, args.threads)
        if args.suite == "denormal":
            return
    if args.suite in ("text", "all") and not args.case:
        text_suite(Path(args.data_dir), args.epochs)
        if args.suite == "text":
            return
    if args.case and args.profile:
        import cProfile
        import pstats

        import torch

        torch.set_num_threads(int(args.threads))
        _, table, method, *rest = args.case.split(":")
        prof = cProfile.Profile()
        prof.runcall(case_run, table, method, Path(args.data_dir), int(rest[0]) if rest else 0)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(35)
        return
    if args.case:
        import torch

        torch.set_num_threads(int(args.threads))
        # Same floating-point mode for every case: the engine flushes subnormals while it trains.
        torch.set_flush_denormal(args.flush_denormal)
        if not args.flush_denormal:
            os.environ["FUSIONDP_FLUSH_DENORMAL"] = "0"
        print(json.dumps(run_case(args.case, Path(args.data_dir), args.epochs)))
        return
    results: dict[str, dict] = {}
    for rnd in range(args.rounds):
        for name in CASES:
            cmd = [sys.executable, __file__, "--case", name, "--data-dir", args.data_dir, "--epochs",
                   str(args.epochs), "--threads", str(args.threads)]
            cmd += [] if args.flush_denormal else ["--no-flush-denormal"]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"{name}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            if name not in results or r["sec_per_epoch"] < results[name]["sec_per_epoch"]:
                results[name] = r
            print(f"round {rnd + 1}: {name:9s} {r['sec_per_epoch']:7.2f} s/epoch", flush=True)
    print()
    for name, r in results.items():
        extra = f"  (extrapolated from {r['extrapolated_from_steps']} steps)" if "extrapolated_from_steps" in r else ""
        rss = f"  RSS after each epoch {r['rss_after_each_epoch_mb']} MB" if "rss_after_each_epoch_mb" in r else ""
        print(f"{name:9s} {r['sec_per_epoch']:7.2f} s/epoch  peak RSS {r['peak_rss_mb']:7.1f} MB{extra}{rss}")
    s = {k: v["sec_per_epoch"] for k, v in results.items()}
    print(f"\nthreads per case: {args.threads}; flush-denormal {'on' if args.flush_denormal else 'off'} in every case")
    if {"dpsgd", "opacus"} <= s.keys():
        print(f"dpsgd / opacus     = {s['dpsgd'] / s['opacus']:.2f}   (target <= 0.4)")
    if {"fusiondp", "floor"} <= s.keys():
        print(f"fusiondp / floor   = {s['fusiondp'] / s['floor']:.2f}   (target <= 1.3)")
    if {"fusiondp", "loop"} <= s.keys():
        print(f"loop / fusiondp    = {s['loop'] / s['fusiondp']:.1f}   (target >= 5)")


if __name__ == "__main__":
    main()
