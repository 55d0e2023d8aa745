"""The table of bad inputs and faults the `fusiondp` command line and Python API must handle (issue 14).

One `Case` per row. `test_robustness.py` runs every row and asserts its exit code, one `error:`
line (at most one `hint:` line, never a traceback) for a failure, that every input file is
byte-identical afterwards, and the exact set of files afterwards. `scripts/gen_reliability_docs.py`
writes docs/reliability.md from this same table, so the page cannot drift from what is tested.

Commands run in a fresh folder holding the files a row names (`KIT`, built once by `build_kit`,
plus the row's own `files`).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tables import make_hybrid, make_table

# --------------------------------------------------------------------------- the shared files (the "kit")
COMMON = ["--target", "y", "--sensitive", "age,sex,unit", "--drop", "id", "--epochs", "1", "--batch-size", "32",
          "--public-batch-size", "64", "--delta", "1e-4", "--no-progress"]


def train_args(*extra: str, train: str = "train.csv", hybrid: str = "hybrid.csv", common=COMMON) -> list[str]:
    """A fast `fusiondp train` command line on the kit's files, with `extra` options appended."""
    args = ["train", "--train", train, "--hybrid", hybrid, *common, *extra]
    return args


TWO_EPOCHS = [a if a != "1" else "2" for a in COMMON]  # the same run over two epochs (for the interrupted one)


def build_kit(folder: Path, run_cli: Callable[[list[str]], int]) -> None:
    """Write the shared input files into `folder` (tables, a model, a report, two checkpoints)."""
    t = make_table(200)
    t.to_csv(folder / "train.csv", index=False)
    make_hybrid(t).to_csv(folder / "hybrid.csv", index=False)
    make_table(80, seed=5).to_csv(folder / "test.csv", index=False)
    make_table(120, seed=7).to_csv(folder / "support.csv", index=False)
    make_table(30, seed=3).drop(columns=["y"]).to_csv(folder / "data.csv", index=False)
    codes = [run_cli(train_args("--report", "run.json", "--save-model", "model.safetensors", "--checkpoint",
                                "done.ckpt"))]
    (folder / "run.html").unlink()
    assert codes == [0], codes


def build_partial_checkpoint(folder: Path, run_cli, interrupt_after_first_save) -> None:
    """partial.ckpt: a two-epoch run interrupted (SIGINT) right after its first epoch's checkpoint."""
    with interrupt_after_first_save():
        code = run_cli(train_args("--checkpoint", "partial.ckpt", common=TWO_EPOCHS))
    assert code == 130, code


KIT_FILES = ("train.csv", "hybrid.csv", "test.csv", "support.csv", "data.csv", "model.safetensors", "run.json",
             "done.ckpt", "partial.ckpt")


# --------------------------------------------------------------------------- file builders of single rows
def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def _header(raw: bytes) -> tuple[int, dict]:
    (n,) = struct.unpack("<Q", raw[:8])
    return n, json.loads(raw[8:8 + n])


def _with_header(raw: bytes, header: dict) -> bytes:
    n, _ = _header(raw)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + raw[8 + n:]


def _edit_model(kit: Path, change: Callable[[dict], None], *, reseal: bool, name: str = "model.safetensors",
                key: str = "fusiondp") -> bytes:
    """The kit's model with its JSON document changed; `reseal` recomputes the digest (a consistent-looking
    file whose metadata is wrong), otherwise the digest is left stale (an edited file)."""
    from fusiondp._sealed import digest

    raw = (kit / name).read_bytes()
    _, header = _header(raw)
    meta = json.loads(header["__metadata__"][key])
    change(meta)
    if reseal:
        from safetensors.torch import load

        meta["sha256"] = digest(meta, load(raw))
    header["__metadata__"][key] = json.dumps(meta)
    return _with_header(raw, header)


class Evil:
    """A pickle payload that creates a file named PWNED when unpickled."""

    def __reduce__(self):
        return (open, ("PWNED", "w"))


def _evil_checkpoint(kit: Path) -> bytes:
    import io

    import torch

    buf = io.BytesIO()
    torch.save({"version": 2, "payload": Evil()}, buf)
    return buf.getvalue()


def _table(change: Callable[[pd.DataFrame], pd.DataFrame], n: int = 200) -> Callable[[Path], bytes]:
    return lambda kit: _csv(change(make_table(n)))


def _hybrid_of(change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], bytes]:
    return lambda kit: _csv(change(make_hybrid(make_table(200))))


def _set(frame: pd.DataFrame, **cols) -> pd.DataFrame:
    frame = frame.copy()
    for k, v in cols.items():
        frame[k] = v(frame) if callable(v) else v
    return frame


# --------------------------------------------------------------------------- the table
@dataclass
class Case:
    """One row: a command line (or a Python API call) on some files, and what must come of it.

    Attributes:
        id: short name (pytest id).
        group: the issue-14 section the row belongs to, or "handled" (already handled before).
        what: the input or fault, in words (docs/reliability.md).
        argv: the `fusiondp` command line (run in the row's folder); None for an API row.
        code: the expected exit code.
        message: a piece of the `error:` line (or, on success, of the output) that must appear.
        kit: names of the shared files copied into the row's folder.
        files: the row's own files: name → builder(kit folder) → bytes.
        new: files that must exist afterwards besides the inputs (on success: the outputs).
        changed: inputs the command may rewrite (a checkpoint it resumes from).
        fault: an injected fault (see test_robustness.FAULTS), or None.
        api: a Python callable that must raise a FusionDPError containing `message` (API rows).
        hint: a piece of the `hint:` line that must appear.
    """

    id: str
    group: str
    what: str
    argv: list[str] | None
    code: int
    message: str
    kit: tuple[str, ...] = ("train.csv", "hybrid.csv")
    files: dict[str, Callable[[Path], bytes]] = field(default_factory=dict)
    new: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    fault: str | None = None
    api: Callable[[], object] | None = None
    hint: str = ""


def _api_config(**kw):
    from fusiondp.train.config import TrainConfig

    return lambda: TrainConfig(**kw).validate(200)


def _api_classifier(**kw):
    def call():
        from fusiondp.estimator import FusionDPClassifier

        rng = np.random.default_rng(0)
        X = rng.normal(size=(120, 3))
        FusionDPClassifier(sensitive=[0], support_fraction=0.3, imputer="mean", epochs=1, **kw).fit(
            X, (X[:, 1] > 0).astype(int))

    return call


def _api_checkpoint(kit_builder):
    def call():
        import tempfile

        from fusiondp.train import checkpoint

        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "evil.ckpt"
            path.write_bytes(kit_builder(None))
            try:
                checkpoint.read(path)
            finally:
                assert not Path("PWNED").exists() and not (Path(d) / "PWNED").exists()

    return call


def _api_save_over(name: str):
    """fusiondp.io.save of a freshly trained model to `name`, an existing file of the row's folder."""
    def call():
        from fusiondp import io
        from fusiondp.data.schema import Schema
        from fusiondp.pipeline import run
        from fusiondp.train.config import TrainConfig

        t = make_table(200)
        result, prepared, rep = run(t, make_hybrid(t), Schema("y", "age,sex,unit", "id"), method="fusiondp",
                                    config=TrainConfig(epochs=1, batch_size=32, delta=1e-4), progress=False)
        io.save(name, result, prepared, rep)

    return call


def _nested_report(depth: int) -> Callable[[Path], bytes]:
    head = '{"method": "x", "epsilon": 1.0, "neighbouring": null, "metrics": {}, "history": '
    return lambda kit: (head + "[" * depth + "]" * depth + "}").encode()


def _settings(body: dict) -> Callable[[Path], bytes]:
    return lambda kit: json.dumps({"format": "fusiondp-settings", "version": 1, "method": "fusiondp",
                                   "settings": body, "selection": {}}).encode()


IMPUTE = ["impute", "--train", "train.csv", "--support", "support.csv", "--target", "y", "--sensitive", "age",
          "--drop", "id", "--imputer", "mean", "--no-progress"]
ATTRIBUTE = ["audit", "attribute", "--model", "model.safetensors", "--train", "train.csv", "--heldout", "test.csv",
             "--support", "support.csv", "--imputer", "mean", "--rows", "40", "--bootstrap", "20", "--grid", "5"]
AUDIT_KIT = ("model.safetensors", "train.csv", "test.csv", "support.csv")
CKPT = ("train.csv", "hybrid.csv", "done.ckpt")
MODEL = ("model.safetensors", "data.csv")
OUT_JSON = ("run.json", "run.html")

CASES: list[Case] = [
    # 1. checkpoints that could run code, are damaged, or belong to another run
    Case("ckpt_malicious_pickle", "checkpoint", "a checkpoint that is a malicious pickle (its __reduce__ writes a "
         "file)", train_args("--checkpoint", "evil.ckpt"), 1, "not a usable fusiondp checkpoint",
         files={"evil.ckpt": _evil_checkpoint}, fault="malicious", hint="pickles"),
    Case("ckpt_malicious_pickle_api", "checkpoint", "the same pickle given to the Python API "
         "(`fusiondp.train.checkpoint.read`)", None, 1, "not a usable fusiondp checkpoint",
         api=_api_checkpoint(_evil_checkpoint)),
    Case("ckpt_random_bytes", "checkpoint", "a checkpoint of random bytes", train_args("--checkpoint", "bad.ckpt"),
         1, "not a usable fusiondp checkpoint", files={"bad.ckpt": lambda k: bytes(range(256)) * 8}),
    Case("ckpt_truncated", "checkpoint", "a truncated checkpoint", train_args("--checkpoint", "cut.ckpt"), 1,
         "truncated", files={"cut.ckpt": lambda k: (k / "done.ckpt").read_bytes()[:3000]}),
    Case("ckpt_edited", "checkpoint", "a checkpoint whose step count was edited in its header",
         train_args("--checkpoint", "edit.ckpt"), 1, "does not match its recorded digest",
         files={"edit.ckpt": lambda k: _edit_model(k, lambda m: m.update(step=1), reseal=False, name="done.ckpt",
                                                  key="fusiondp-checkpoint")}),
    Case("ckpt_other_lr", "checkpoint", "re-running a finished checkpoint with another --lr", train_args(
        "--checkpoint", "done.ckpt", "--lr", "0.2", "--report", "run.json"), 1, "lr = 0.2 here but 0.3",
         kit=CKPT),
    Case("ckpt_other_clip", "checkpoint", "resuming with another --clip", train_args(
        "--checkpoint", "done.ckpt", "--clip", "3.0"), 1, "clip = 3.0 here but", kit=CKPT),
    Case("ckpt_other_seed", "checkpoint", "resuming with another --seed", train_args(
        "--checkpoint", "done.ckpt", "--seed", "3"), 1, "seed = 3 here but 0", kit=CKPT),
    Case("ckpt_other_epsilon", "checkpoint", "resuming with another --epsilon", train_args(
        "--checkpoint", "done.ckpt", "--epsilon", "4"), 1, "epsilon = 4.0 here but 2.0", kit=CKPT),
    Case("ckpt_other_method", "checkpoint", "resuming with another --method", train_args(
        "--checkpoint", "done.ckpt", "--method", "fdp_fm"), 1, "method 'fdp_fm' here but 'fusiondp'", kit=CKPT),
    Case("ckpt_other_data", "checkpoint", "resuming on another dataset with the same row count",
         train_args("--checkpoint", "done.ckpt", train="train2.csv", hybrid="hybrid2.csv"), 1,
         "the training data differ", kit=("done.ckpt",),
         files={"train2.csv": lambda k: _csv(make_table(200, seed=11)),
                "hybrid2.csv": lambda k: _csv(make_hybrid(make_table(200, seed=11)))}),
    Case("ckpt_finished_same", "checkpoint", "re-running a finished checkpoint with the same settings",
         train_args("--checkpoint", "done.ckpt", "--report", "run.json"), 0, "ε =", kit=CKPT, new=OUT_JSON),
    Case("ckpt_resume_after_sigint", "checkpoint", "resuming a run interrupted by SIGINT after its first epoch",
         train_args("--checkpoint", "partial.ckpt", "--report", "run.json", common=TWO_EPOCHS), 0, "ε =",
         kit=("train.csv", "hybrid.csv", "partial.ckpt"), new=OUT_JSON, changed=("partial.ckpt",)),
    Case("ckpt_sigkill_resume", "checkpoint", "SIGKILL during a checkpointed run, then the same command again",
         train_args("--checkpoint", "k.ckpt", "--report", "run.json", common=TWO_EPOCHS), 0, "ε =",
         new=OUT_JSON, changed=("k.ckpt",), fault="sigkill"),
    Case("ckpt_folder", "checkpoint", "--checkpoint naming a folder", train_args("--checkpoint", "sub"), 1,
         "is a folder", files={"sub/keep.txt": lambda k: b"x"}),
    Case("ckpt_suffix", "checkpoint", "--checkpoint with another suffix (an old .pt file)",
         train_args("--checkpoint", "run.pt"), 1, "should end with .ckpt"),
    Case("ckpt_sigint", "checkpoint", "SIGINT during training with --checkpoint", train_args(
        "--checkpoint", "c.ckpt", "--report", "run.json", common=TWO_EPOCHS), 130, "interrupted",
         new=("c.ckpt",), fault="sigint_train", hint="resume"),

    # 2. model files: one digest over metadata and tensors, a schema check of the metadata
    Case("model_edited_epsilon", "model file", "a model whose stored ε was edited in the header",
         ["predict", "--model", "m.safetensors", "--data", "data.csv", "--out", "p.csv"], 1,
         "does not match its recorded digest", kit=("data.csv",),
         files={"m.safetensors": lambda k: _edit_model(k, lambda m: m["privacy"].update(epsilon=2e15), reseal=False)}),
    Case("model_edited_mean", "model file", "a model whose preprocessing mean was edited",
         ["predict", "--model", "m.safetensors", "--data", "data.csv", "--out", "p.csv"], 1,
         "does not match its recorded digest", kit=("data.csv",),
         files={"m.safetensors": lambda k: _edit_model(k, lambda m: m["preprocessor"]["mean"].update(hr=500.0),
                                                       reseal=False)}),
    Case("model_no_columns", "model file", "consistent digest, but a column removed from the metadata",
         ["predict", "--model", "m.safetensors", "--data", "data.csv", "--out", "p.csv"], 1,
         "preprocessor", kit=("data.csv",),
         files={"m.safetensors": lambda k: _edit_model(k, lambda m: m["preprocessor"]["columns"].remove("hr"),
                                                       reseal=True)}),
    Case("model_no_classes", "model file", "consistent digest, label classes removed",
         ["predict", "--model", "m.safetensors", "--data", "data.csv", "--out", "p.csv"], 1, "label_classes",
         kit=("data.csv",), files={"m.safetensors": lambda k: _edit_model(
             k, lambda m: m.update(label_classes=[]), reseal=True)}),
    Case("model_no_epsilon", "model file", "consistent digest, ε removed from the privacy record",
         ["predict", "--model", "m.safetensors", "--data", "data.csv", "--out", "p.csv"], 1, "privacy.epsilon",
         kit=("data.csv",), files={"m.safetensors": lambda k: _edit_model(
             k, lambda m: m["privacy"].pop("epsilon"), reseal=True)}),
    Case("model_scale_zero", "model file", "consistent digest, a preprocessing scale of 0",
         ["predict", "--model", "m.safetensors", "--data", "data.csv", "--out", "p.csv"], 1, "scale",
         kit=("data.csv",), files={"m.safetensors": lambda k: _edit_model(
             k, lambda m: m["preprocessor"]["scale"].update(hr=0.0), reseal=True)}),
    Case("model_old_version", "model file", "a model of another format version",
         ["predict", "--model", "m.safetensors", "--data", "data.csv", "--out", "p.csv"], 1, "format version 1",
         kit=("data.csv",), files={"m.safetensors": lambda k: _edit_model(
             k, lambda m: m.update(format_version=1), reseal=True)}),
    Case("model_flipped_tensor", "handled", "a model with one tensor byte flipped",
         ["predict", "--model", "m.safetensors", "--data", "data.csv", "--out", "p.csv"], 1,
         "does not match its recorded digest", kit=("data.csv",),
         files={"m.safetensors": lambda k: (lambda b: b[:-3] + bytes([b[-3] ^ 0xFF]) + b[-2:])(
             (k / "model.safetensors").read_bytes())}),
    Case("model_truncated", "handled", "a truncated model file",
         ["predict", "--model", "m.safetensors", "--data", "data.csv", "--out", "p.csv"], 1, "truncated",
         kit=("data.csv",), files={"m.safetensors": lambda k: (k / "model.safetensors").read_bytes()[:500]}),
    Case("model_text", "handled", "a text file given as the model",
         ["predict", "--model", "m.safetensors", "--data", "data.csv", "--out", "p.csv"], 1,
         "not a usable fusiondp model", kit=("data.csv",), files={"m.safetensors": lambda k: b"id,hr\n1,80\n"}),
    Case("model_missing", "handled", "a model path that does not exist",
         ["predict", "--model", "nope.safetensors", "--data", "data.csv", "--out", "p.csv"], 1, "not found",
         kit=("data.csv",)),
    Case("model_folder", "traceback", "a folder given as the model",
         ["predict", "--model", "sub", "--data", "data.csv", "--out", "p.csv"], 1, "is a folder",
         kit=("data.csv",), files={"sub/x.txt": lambda k: b"x"}),
    Case("predict_missing_column", "handled", "prediction data lacking a feature column",
         ["predict", "--model", "model.safetensors", "--data", "d.csv", "--out", "p.csv"], 1, "'hr'",
         kit=("model.safetensors",), files={"d.csv": lambda k: _csv(make_table(30).drop(columns=["hr", "y"]))}),

    # 3. outputs that would destroy inputs
    Case("out_report_is_train", "outputs", "--report naming the training CSV",
         train_args("--report", "train.csv"), 1, "is also an input of this command (the input --train)"),
    Case("out_report_is_input_json", "outputs", "--report naming a JSON input (the --test table)",
         train_args("--test", "t.json", "--report", "t.json"), 1, "also an input",
         files={"t.json": lambda k: b"{}"}),
    Case("out_model_is_hybrid", "outputs", "--save-model naming the hybrid CSV",
         train_args("--save-model", "hybrid.csv"), 1, "is also an input of this command (the input --hybrid)"),
    Case("out_report_html", "outputs", "--report r.html (the HTML page would overwrite the JSON)",
         train_args("--report", "r.html"), 1, "should end with .json"),
    Case("out_impute_is_train", "outputs", "impute --out naming the training CSV",
         ["impute", "--train", "train.csv", "--support", "support.csv", "--target", "y", "--sensitive", "age",
          "--drop", "id", "--out", "train.csv", "--imputer", "mean", "--no-progress"], 1, "also an input",
         kit=("train.csv", "support.csv")),
    Case("out_impute_symlink", "outputs", "impute --out naming a symlink to the support CSV",
         ["impute", "--train", "train.csv", "--support", "support.csv", "--target", "y", "--sensitive", "age",
          "--drop", "id", "--out", "link.csv", "--imputer", "mean", "--no-progress"], 1, "also an input",
         kit=("train.csv", "support.csv"), fault="symlink"),
    Case("out_predict_is_data", "outputs", "predict --out naming its --data", ["predict", "--model",
         "model.safetensors", "--data", "data.csv", "--out", "data.csv"], 1, "also an input", kit=MODEL),
    Case("out_report_cmd_self", "outputs", "report X.json --out X.json", ["report", "run.json", "--out",
         "run.json"], 1, "also an input", kit=("run.json",)),
    # issue 27: every output of every command, and of the Python API, goes through one check
    Case("out_tune_is_train", "outputs", "tune --out naming the training CSV",
         ["tune", "--train", "train.csv", "--hybrid", "hybrid.csv", "--val", "test.csv", "--target", "y",
          "--sensitive", "age,sex,unit", "--drop", "id", "--candidates", "1", "--out", "train.csv"], 1,
         "also an input", kit=("train.csv", "hybrid.csv", "test.csv")),
    Case("out_bench_is_table", "outputs", "bench --out naming its --table file",
         ["bench", "--table", "t.csv", "--target", "y", "--sensitive", "age,sex,unit", "--drop", "id",
          "--methods", "sgd_hybrid", "--epsilons", "1", "--seeds", "1", "--no-equal-protection", "--no-report",
          "--no-progress", "--out", "t.csv"], 1, "also an input", files={"t.csv": _table(lambda f: f, n=600)}),
    Case("out_impute_quality_is_train", "outputs", "impute --quality-out naming the training CSV",
         [*IMPUTE, "--out", "h.csv", "--quality-out", "train.csv"], 1, "also an input",
         kit=("train.csv", "support.csv")),
    Case("out_api_save_over_csv", "outputs", "Python API: `fusiondp.io.save(..., \"x.csv\")` over an existing "
         "CSV", None, 1, "is not a fusiondp model", kit=(), files={"x.csv": lambda k: _csv(make_table(20))},
         api=_api_save_over("x.csv")),
    Case("out_audit_html_is_model", "outputs", "audit attribute --html naming a hard link to its --model",
         [*ATTRIBUTE, "--out", "a.json", "--html", "m.html"], 1, "also an input", kit=AUDIT_KIT,
         fault="hardlink"),
    Case("out_parent_is_file", "traceback", "an output whose folder is a file (unwritable path)",
         train_args("--report", "train.csv/run.json"), 3, "is not a folder"),
    Case("out_checked_before_training", "atomic", "a bad --save-model path is refused before any training",
         train_args("--save-model", "data.csv/m.safetensors"), 3, "is not a folder",
         kit=("train.csv", "hybrid.csv", "data.csv"), fault="forbid_training"),

    # 4. half-written files
    Case("atomic_predict_full_disk", "atomic", "predict on a full disk (ENOSPC at the write)",
         ["predict", "--model", "model.safetensors", "--data", "data.csv", "--out", "p.csv"], 3,
         "no space left", kit=MODEL, fault="enospc"),
    Case("atomic_impute_full_disk", "atomic", "impute on a full disk (ENOSPC at the write)",
         ["impute", "--train", "train.csv", "--support", "support.csv", "--target", "y", "--sensitive", "age",
          "--drop", "id", "--out", "out/h.csv", "--imputer", "mean", "--no-progress"], 3, "no space left",
         kit=("train.csv", "support.csv"), fault="enospc"),
    Case("atomic_train_model_fails", "atomic", "train whose model write fails after the report was staged",
         train_args("--report", "run.json", "--save-model", "m.safetensors"), 3, "no space left",
         fault="enospc_third"),
    Case("atomic_train_report_fails", "atomic", "train whose report write fails",
         train_args("--report", "run.json"), 3, "no space left", fault="enospc"),
    Case("atomic_report_cmd_fails", "atomic", "report on a full disk", ["report", "run.json", "--out", "r.html"],
         3, "no space left", kit=("run.json",), fault="enospc"),
    Case("atomic_predict_tmpfs", "atomic", "predict --out on a real 64 KiB filesystem (tmpfs) with ~90 KB of "
         "predictions", ["predict", "--model", "model.safetensors", "--data", "big.csv", "--out", "full/p.csv"], 3,
         "no space left", kit=("model.safetensors",),
         files={"big.csv": lambda k: _csv(make_table(3300, seed=3).drop(columns=["y"]))}, fault="tmpfs_64k"),
    Case("atomic_predict_short_write", "atomic", "predict whose output the disk silently cuts short",
         ["predict", "--model", "model.safetensors", "--data", "data.csv", "--out", "p.csv"], 3, "short write",
         kit=MODEL, fault="short_write"),
    Case("atomic_audit_html_full_disk", "atomic", "audit attribute whose --html page hits a full disk after its "
         "JSON was staged (the JSON must not be left behind)", [*ATTRIBUTE, "--out", "a.json", "--html", "a.html"],
         3, "no space left", kit=AUDIT_KIT, fault="enospc_second"),
    Case("atomic_audit_html_tmpfs", "atomic", "audit attribute --html on a real full filesystem (tmpfs)",
         [*ATTRIBUTE, "--out", "a.json", "--html", "full/a.html"], 3, "no space left", kit=AUDIT_KIT,
         fault="tmpfs_full"),
    Case("atomic_impute_quality_full_disk", "atomic", "impute whose --quality-out hits a full disk (the hybrid "
         "table must not be left behind)", [*IMPUTE, "--out", "h.csv", "--quality-out", "q.json"], 3,
         "no space left", kit=("train.csv", "support.csv"), fault="enospc_second"),
    Case("atomic_sigint_write", "atomic", "SIGINT while an output is being written",
         ["predict", "--model", "model.safetensors", "--data", "data.csv", "--out", "p.csv"], 130,
         "interrupted", kit=MODEL, fault="sigint_write"),

    # 5. calibration failures
    Case("calib_huge_epsilon", "calibration", "--epsilon 1e6", train_args("--epsilon", "1e6"), 1,
         "larger than calibration can target", hint="--noise-multiplier"),
    Case("calib_huge_epochs", "calibration", "--epochs 1e6 (refused before any memory is allocated)",
         train_args("--epochs", "1e6"), 1, "noisy steps, more than fusiondp accepts"),
    Case("calib_pld_steps", "calibration", "more steps than the PLD accountant can hold in memory",
         train_args("--epochs", "20000"), 1, "PLD accountant cannot account", hint="--accountant rdp"),

    # 6. silent wrong results
    Case("target_continuous", "silent", "a continuous target", train_args(train="t.csv", hybrid="h.csv"), 1,
         "looks continuous", files={"t.csv": _table(lambda f: _set(f, y=f["hr"] / 7)),
                                    "h.csv": _hybrid_of(lambda f: _set(f, y=f["hr"] / 7))}, hint="bin"),
    Case("target_many_classes", "silent", "an integer target with 200 distinct values",
         train_args(train="t.csv", hybrid="h.csv"), 1, "distinct values",
         files={"t.csv": _table(lambda f: _set(f, y=np.arange(200))),
                "h.csv": _hybrid_of(lambda f: _set(f, y=np.arange(200)))}),
    Case("target_inf", "silent", "an infinite value in the target", train_args(train="t.csv", hybrid="h.csv"), 1,
         "infinite", files={"t.csv": _table(lambda f: _set(f, y=lambda g: g["y"].astype(float).where(
             g.index != 5, np.inf))), "h.csv": _hybrid_of(lambda f: _set(f, y=lambda g: g["y"].astype(float).where(
                 g.index != 5, np.inf)))}),
    Case("hybrid_sensitive_all_nan", "silent", "a hybrid whose sensitive column is all missing",
         train_args(hybrid="h.csv"), 1, "holds no value at all", kit=("train.csv",),
         files={"h.csv": _hybrid_of(lambda f: _set(f, age=np.nan))}),
    Case("public_column_empty", "silent", "a public column with no value at all (trained, with a warning line "
         "and a `preprocessing` entry in the report)", train_args("--report", "run.json", train="t.csv",
                                                                 hybrid="h.csv"), 0,
         "warning: Column 'lab' is empty", files={"t.csv": _table(lambda f: _set(f, lab=np.nan)),
                                                  "h.csv": _hybrid_of(lambda f: _set(f, lab=np.nan))}, new=OUT_JSON),
    Case("unseen_category", "silent", "a test table with a category the public data never show (trained, with a "
         "warning line)", train_args("--test", "t.csv"), 0, "never show",
         files={"t.csv": lambda k: _csv(_set(make_table(80, seed=5), ward=lambda g: g["ward"].where(
             g.index % 2 == 0, "zz")))}),
    Case("report_no_neighbouring", "silent", "`fusiondp report` on a JSON without `neighbouring`",
         ["report", "r.json"], 1, "lacks 'neighbouring'",
         files={"r.json": lambda k: json.dumps({"method": "fusiondp", "epsilon": 1.0, "metrics": {},
                                                "history": []}).encode()}),

    # 7. tracebacks that are now one error line
    Case("train_is_folder", "traceback", "--train naming a folder", train_args(train="sub"), 1, "is a folder",
         kit=("hybrid.csv",), files={"sub/a.csv": lambda k: b"a\n1\n"}),
    Case("support_one_row", "traceback", "a support set of one row", [
        "train", "--train", "train.csv", "--support", "s.csv", *COMMON], 1, "The support set has 1 row(s)",
         kit=("train.csv",), files={"s.csv": lambda k: _csv(make_table(120, seed=7).head(1))}),
    Case("seed_negative", "traceback", "--seed -1", train_args("--seed", "-1"), 1, "seed"),
    Case("seed_huge", "traceback", "--seed 2**40", train_args("--seed", str(2**40)), 1, "seed"),
    Case("report_wrong_shape", "traceback", "a report JSON that is a list", ["report", "r.json"], 1,
         "not a fusiondp run report", files={"r.json": lambda k: b"[1, 2]"}),
    Case("report_epsilon_text", "traceback", "a report JSON whose epsilon is text", ["report", "r.json"], 1,
         "'epsilon' is a str", files={"r.json": lambda k: json.dumps({
             "method": "x", "epsilon": "2", "neighbouring": None, "metrics": {}, "history": []}).encode()}),
    Case("report_deeply_nested", "traceback", "a report JSON nested 100,000 levels deep", ["report", "r.json"],
         1, "nested too deeply", files={"r.json": _nested_report(100_000)}),
    Case("report_history_numbers", "traceback", "a report whose history entries are numbers",
         ["report", "r.json"], 1, "history entry 0 is a int", files={"r.json": lambda k: json.dumps({
             "method": "x", "epsilon": 1.0, "neighbouring": None, "metrics": {}, "history": [1, 2]}).encode()}),
    Case("settings_binary", "traceback", "--settings given a binary file", train_args("--settings", "s.json"), 1,
         "not UTF-8", files={"s.json": lambda k: bytes(range(256)) * 4}),
    Case("settings_hidden_text", "traceback", "a settings file with hidden: ['x']",
         train_args("--settings", "s.json"), 1, "'hidden' must be a list of positive integers",
         files={"s.json": _settings({"hidden": ["x"]})}),
    Case("audit_rows_negative", "traceback", "audit attribute --rows -5",
         [*ATTRIBUTE[:-6], "--rows", "-5", "--out", "a.json"], 1, "rows=-5", kit=AUDIT_KIT),
    Case("predict_out_symlink_loop", "traceback", "predict --out naming a symbolic link loop",
         ["predict", "--model", "model.safetensors", "--data", "data.csv", "--out", "loop.csv"], 1, "symlink loop",
         kit=MODEL, fault="symlink_loop"),
    Case("demo_seed_negative", "traceback", "demo --seed -1", ["demo", "--seed", "-1", "--quick", "--out", "d"], 1,
         "seed=-1", kit=()),
    Case("model_module_exits", "traceback", "a --model file that calls sys.exit(7) on import (exited 7)",
         train_args("--model", "net.py:make"), 1, "sys.exit(7)",
         files={"net.py": lambda k: b"import sys\nsys.exit(7)\n"}, hint="__main__"),
    Case("model_fifo", "traceback", "a model path that is a FIFO with no writer (blocked forever)",
         ["predict", "--model", "fifo", "--data", "data.csv", "--out", "p.csv"], 1, "FIFO",
         kit=("data.csv",), fault="fifo"),
    Case("settings_fifo", "traceback", "--settings naming a FIFO with no writer (blocked forever)",
         train_args("--settings", "fifo"), 1, "FIFO", fault="fifo"),
    Case("report_not_json", "handled", "a report file that is not JSON", ["report", "r.json"], 1,
         "not a JSON report", files={"r.json": lambda k: b"{oops"}),

    # 8. rough edges
    Case("column_with_comma", "rough", "a sensitive column whose name holds a comma, quoted",
         train_args(train="t.csv", hybrid="h.csv", common=[*COMMON[:2], "--sensitive", '"a,ge",sex,unit',
                                                           *COMMON[4:]]), 0, "ε =",
         files={"t.csv": _table(lambda f: f.rename(columns={"age": "a,ge"})),
                "h.csv": _hybrid_of(lambda f: f.rename(columns={"age": "a,ge"}))}),
    Case("column_leading_space", "rough", "a column named ' age' passed unquoted",
         train_args(train="t.csv", hybrid="h.csv"), 1, "'age' not found",
         files={"t.csv": _table(lambda f: f.rename(columns={"age": " age"})),
                "h.csv": _hybrid_of(lambda f: f.rename(columns={"age": " age"}))}, hint="' age'"),
    Case("column_unbalanced_quote", "rough", "an unbalanced quote in --sensitive",
         train_args(common=[*COMMON[:2], "--sensitive", '"age,sex', *COMMON[4:]]), 1, "Unbalanced double quote"),
    Case("semicolon_csv", "rough", "a ';'-separated training file", train_args(train="t.csv"), 1,
         "';'-separated", files={"t.csv": lambda k: make_table(50).to_csv(index=False, sep=";").encode()},
         hint="comma-separated"),
    Case("hybrid_wrong_length", "rough", "a hybrid table with fewer rows than the training table",
         train_args(hybrid="h.csv"), 1, "Hybrid table has 150 rows",
         files={"h.csv": lambda k: _csv(make_hybrid(make_table(200)).head(150))}),
    Case("api_epsilon_true", "rough", "Python API: TrainConfig(epsilon=True)", None, 1, "epsilon=True",
         api=_api_config(epsilon=True)),
    Case("api_batch_true", "rough", "Python API: TrainConfig(batch_size=True)", None, 1, "batch_size=True",
         api=_api_config(batch_size=True)),
    Case("api_numpy_epsilon", "rough", "Python API: epsilon=np.float64(-1) is printed as a plain number", None, 1,
         "epsilon=-1.0", api=_api_config(epsilon=np.float64(-1.0))),
    Case("api_classifier_epsilon_true", "rough", "Python API: FusionDPClassifier(epsilon=True).fit", None, 1,
         "epsilon=True", api=_api_classifier(epsilon=True)),
    Case("api_seed_float", "rough", "Python API: TrainConfig(seed=1.5)", None, 1, "seed=1.5",
         api=_api_config(seed=1.5)),

    # already handled before issue 14 (kept so they stay handled)
    Case("ok_train", "handled", "a correct training run with report and model",
         train_args("--report", "out/run.json", "--save-model", "out/m.safetensors", "--test", "test.csv"), 0,
         "ε =", kit=("train.csv", "hybrid.csv", "test.csv"),
         new=("out/run.json", "out/run.html", "out/m.safetensors")),
    Case("ok_predict", "handled", "a correct prediction", ["predict", "--model", "model.safetensors", "--data",
         "data.csv", "--out", "p.csv"], 0, "30 predictions", kit=MODEL, new=("p.csv",)),
    Case("ok_impute", "handled", "a correct imputation", ["impute", "--train", "train.csv", "--support",
         "support.csv", "--target", "y", "--sensitive", "age", "--drop", "id", "--out", "h.csv", "--imputer", "mean",
         "--no-progress"], 0, "wrote", kit=("train.csv", "support.csv"), new=("h.csv",)),
    Case("ok_report", "handled", "a correct HTML report", ["report", "run.json", "--out", "page.html"], 0,
         "report:", kit=("run.json",), new=("page.html",)),
    Case("unknown_sensitive", "handled", "an unknown sensitive column",
         train_args(common=[*COMMON[:2], "--sensitive", "age,weight", *COMMON[4:]]), 1, "'weight' not found"),
    Case("missing_target", "handled", "a missing target column",
         train_args(common=["--target", "label", *COMMON[2:]]), 1, "'label' not found"),
    Case("target_sensitive", "handled", "the target listed as sensitive",
         train_args(common=[*COMMON[:2], "--sensitive", "age,y", *COMMON[4:]]), 1, "listed as sensitive"),
    Case("no_public_column", "handled", "no public column left",
         train_args("--drop", "id,hr,bp,lab,ward", common=[a for a in COMMON if a not in ("--drop", "id")]), 1,
         "No public column"),
    Case("empty_train", "handled", "an empty training file", train_args(train="t.csv"), 1, "is empty",
         files={"t.csv": lambda k: b""}),
    Case("header_only", "handled", "a training file with a header only", train_args(train="t.csv"), 1,
         "no rows", files={"t.csv": lambda k: b"id,hr,bp,lab,ward,age,sex,unit,y\n"}),
    Case("train_missing", "handled", "a training file that does not exist", train_args(train="nope.csv"), 1,
         "not found", kit=("hybrid.csv",)),
    Case("epsilon_zero", "handled", "--epsilon 0", train_args("--epsilon", "0"), 1, "epsilon > 0"),
    Case("delta_too_large", "handled", "δ ≥ 1/N", train_args("--delta", "0.1"), 1, "delta"),
    Case("hybrid_misaligned", "handled", "a hybrid whose public column differs from the training rows",
         train_args(hybrid="h.csv"), 1, "differs first at row 3 (values withheld)",
         files={"h.csv": _hybrid_of(lambda f: _set(f, hr=lambda g: g["hr"].where(g.index != 3, 1.0)))}),
    Case("hybrid_and_support", "handled", "both --hybrid and --support",
         train_args("--support", "support.csv"), 1, "exactly one", kit=("train.csv", "hybrid.csv", "support.csv")),
    Case("unknown_method", "handled", "an unknown method", train_args("--method", "magic"), 1, "magic"),
    Case("rdp_replace", "handled", "RDP under the replace relation",
         train_args("--accountant", "rdp", "--relation", "replace"), 1, "RDP accountant cannot"),
    Case("text_in_sensitive", "handled", "text in a numeric sensitive column (value withheld)",
         train_args(train="t.csv", hybrid="h.csv"), 1, "value withheld",
         files={"t.csv": _table(lambda f: _set(f, age=lambda g: g["age"].astype(object).where(g.index != 7,
                                                                                             "n/a?"))),
                "h.csv": _hybrid_of(lambda f: f)}),
    Case("usage_unknown_option", "handled", "an unknown option", ["train", "--nope"], 2, "No such option"),
    Case("usage_bad_type", "handled", "a non-number for --epochs", train_args("--epochs", "abc"), 2,
         "Invalid value for '--epochs'"),
]
