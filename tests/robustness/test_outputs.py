"""Issue 27: no command may write over its own input, for every command and every output option.

The cases are generated from the command line's own option list (the click command tree typer builds), so a
new command or option is covered without editing this file: every file or folder option must declare its
role (`fusiondp.cli.app.INPUT` / `OUTPUT`), and for every (output option, input option) pair of every command,
naming the input's file as the output (the same name, a symbolic link to it, or a hard link to it) is refused
with exit 1 and one `error:` line, the input byte-identical and nothing written.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import typer.main

from fusiondp.cli.app import PATH_ROLES, UNMARKED, _load_commands, app, run_cli

_load_commands()


def _commands(group=None, prefix: tuple[str, ...] = ()):
    """(command path, click command) of every command of the tree, subcommands included."""
    group = group or typer.main.get_command(app)
    for name, cmd in sorted(group.commands.items()):
        if getattr(cmd, "commands", None):
            yield from _commands(cmd, (*prefix, name))
        else:
            yield (*prefix, name), cmd


def _is_path_param(param) -> bool:
    """True when the click parameter takes a path (Path, Optional[Path], list[Path]) per its annotation."""
    from fusiondp.cli.app import _is_path

    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    if annotation is not None:
        return _is_path(annotation)
    return type(getattr(param, "type", None)).__name__ == "Path"  # plain click


COMMANDS = dict(_commands())


def test_every_path_option_declares_its_role():
    """Every path parameter of every command is marked INPUT or OUTPUT (an unmarked one would be treated as an
    input, but a new output option must be declared to be checked as one)."""
    assert not UNMARKED, f"path options without an INPUT/OUTPUT marker: {sorted(UNMARKED)}"
    for path, cmd in COMMANDS.items():
        roles = PATH_ROLES[" ".join(path)]
        for param in cmd.params:
            if _is_path_param(param):
                assert param.name in roles, f"{' '.join(path)} {param.opts}: a path option with no role"
        assert set(roles) <= {p.name for p in cmd.params}
    outputs = {(c, r[0]) for c, roles in PATH_ROLES.items() for r in roles.values() if r[1] == "output"}
    assert {("train", "--report"), ("tune", "--out"), ("bench", "--out"), ("impute", "--quality-out"),
            ("audit attribute", "--html"), ("predict", "--out"), ("demo", "--out")} <= outputs


def _pairs():
    """(command path, output param, input param, spelling) for every pair; the spelling of the output
    (the input's own name, a symbolic link to it, a hard link to it) rotates over the pairs."""
    out, i = [], 0
    for path, _ in COMMANDS.items():
        roles = PATH_ROLES[" ".join(path)]
        for o, (_, ro) in roles.items():
            for n, (_, rn) in roles.items():
                if ro == "output" and rn == "input":
                    out.append((path, o, n, ("same", "symlink", "hardlink")[i % 3]))
                    i += 1
    return out


PAIRS = _pairs()


def _filler(param, folder: Path) -> list[str]:
    """A value for a required parameter other than the two under test (the check runs before it is used)."""
    if _is_path_param(param):
        p = folder / f"req-{param.name}.csv"
        p.write_text("a,b\n1,2\n")
        return [p.name]
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", str)
    return ["1" if annotation in (int, float) else "y"]


def _argv(path: tuple[str, ...], cmd, out_param: str, in_param: str, out_name: str, in_name: str,
          folder: Path) -> list[str]:
    args, positional = list(path), []
    for param in cmd.params:
        if param.name in (out_param, in_param):
            value = [out_name if param.name == out_param else in_name]
        elif param.required:
            value = _filler(param, folder)
        else:
            continue
        if param.param_type_name == "argument":
            positional += value
        else:
            args += [param.opts[0], *value]
    return args + positional


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(f"link:{os.readlink(p)}".encode() if p.is_symlink() else p.read_bytes())
            .hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("path,out_param,in_param,spelling", PAIRS,
                         ids=[f"{' '.join(p)}:{o}={n}:{s}" for p, o, n, s in PAIRS])
def test_output_naming_an_input_is_refused(path, out_param, in_param, spelling, tmp_path, capsys, monkeypatch):
    assert len(PAIRS) >= 40  # every command's pairs (a broken generator would yield none)
    cmd = COMMANDS[path]
    (tmp_path / "input.csv").write_text("id,hr,y\n1,80,0\n2,90,1\n")
    out_name = "input.csv"
    if spelling == "symlink":
        (tmp_path / "alias.csv").symlink_to("input.csv")
        out_name = "alias.csv"
    elif spelling == "hardlink":
        os.link(tmp_path / "input.csv", tmp_path / "alias.csv")
        out_name = "alias.csv"
    argv = _argv(path, cmd, out_param, in_param, out_name, "input.csv", tmp_path)
    monkeypatch.chdir(tmp_path)
    before = _digest(tmp_path)
    capsys.readouterr()
    code = run_cli(argv)
    _, err = capsys.readouterr()
    assert code == 1, f"{argv}: exit {code}\n{err}"
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines[0].startswith("error:") and "is also an input" in lines[0], err
    assert len([ln for ln in lines if ln.startswith("error:")]) == 1 and "Traceback" not in err, err
    assert _digest(tmp_path) == before, "a file changed or appeared"


def test_a_file_read_during_a_run_is_never_written(tmp_path):
    """The last line of defence: within a run, `write_files` refuses a file read through fusiondp's readers
    (here `read_table`, under another spelling and a hard link), whatever option or default produced the path."""
    from fusiondp._files import run_scope, write_file, write_files
    from fusiondp.data.tabular import read_table
    from fusiondp.errors import ConfigError

    table = tmp_path / "t.csv"
    table.write_text("a,b\n1,2\n")
    os.link(table, tmp_path / "hard.csv")
    (tmp_path / "sub").mkdir()
    with run_scope():
        read_table(tmp_path / "sub" / ".." / "t.csv", what="training")
        for name in ("t.csv", "hard.csv"):
            with pytest.raises(ConfigError, match="also an input"):
                write_files({tmp_path / "new.json": "{}", tmp_path / name: "x"})
        assert not (tmp_path / "new.json").exists()  # refused before anything of the group was written
    assert table.read_text() == "a,b\n1,2\n"
    write_file(table, "a,b\n3,4\n")  # outside the run the file is an ordinary path again
    assert table.read_text() == "a,b\n3,4\n"


def test_special_files_are_refused_before_opening(tmp_path):
    from fusiondp._files import check_input
    from fusiondp.errors import DataError

    os.mkfifo(tmp_path / "pipe.csv")
    with pytest.raises(DataError, match="FIFO"):
        check_input(tmp_path / "pipe.csv", what="training")
    with pytest.raises(DataError, match="not a regular file|a device"):
        check_input("/dev/zero", what="training")
    (tmp_path / "loop.csv").symlink_to("loop.csv")
    with pytest.raises(DataError, match="symlink loop"):
        check_input(tmp_path / "loop.csv", what="training")


def test_io_save_refuses_a_file_that_is_not_a_model(tmp_path):
    """`check_model_destination`: a new path or an earlier fusiondp model only (header read, nothing else)."""
    from fusiondp.errors import ConfigError
    from fusiondp.io import check_model_destination

    assert check_model_destination(tmp_path / "new.safetensors") == tmp_path / "new.safetensors"
    import torch
    from safetensors.torch import save

    other = tmp_path / "other.safetensors"
    other.write_bytes(save({"w": torch.ones(2)}, metadata={"x": "1"}))  # another program's safetensors file
    for name, data in (("x.csv", b"a,b\n1,2\n"), ("other.safetensors", None)):
        if data is not None:
            (tmp_path / name).write_bytes(data)
        with pytest.raises(ConfigError, match="not a fusiondp model"):
            check_model_destination(tmp_path / name)
