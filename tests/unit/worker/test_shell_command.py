"""shell_command_task: plain program calls skip the shell, everything else goes through bash."""

import os
import subprocess

import pytest

from headrace.worker.tasks.shell_command import build_command, direct_argv

PATH = os.environ["PATH"]


@pytest.mark.parametrize("command", ["true", "ls -l /", "python3 --version"])
def test_plain_program_calls_are_executed_directly(command: str) -> None:
    argv = direct_argv(command, PATH)
    assert argv is not None
    assert os.path.isabs(argv[0]) and argv[1:] == command.split()[1:]


@pytest.mark.parametrize(
    "command",
    [
        "echo hi",  # builtin that differs from /bin/echo
        "cd /tmp",
        "true && false",
        "ls | wc -l",
        "echo $HOME",
        "ls *.py",
        "x=1 true",
        "ls 'a b'",
        "sleep 1 &",
        "./script.sh",
        "for i in 1 2; do true; done",
        "no-such-program-xyz",
        "",
    ],
)
def test_anything_shell_like_keeps_the_shell(command: str) -> None:
    assert direct_argv(command, PATH) is None


def test_shell_commands_run_with_bash_semantics_and_env(tmp_path) -> None:
    cmd = build_command(
        {"command": "echo $GREETING && false || echo fallback", "env": {"GREETING": "hi"}}
    )
    out = subprocess.run(cmd.argv, env={**os.environ, **cmd.env}, capture_output=True, text=True)
    assert out.stdout.split() == ["hi", "fallback"]
    assert cmd.cwd is None


def test_direct_command_keeps_working_directory(tmp_path) -> None:
    cmd = build_command({"command": "pwd", "working_directory": str(tmp_path)})
    out = subprocess.run(cmd.argv, cwd=cmd.cwd, capture_output=True, text=True)
    assert out.stdout.strip() == str(tmp_path)


def test_program_lookup_agrees_with_shutil_which(tmp_path) -> None:
    import shutil
    import stat

    from headrace.worker.tasks.shell_command import _find_program

    first, second, empty = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for folder in (first, second, empty):
        folder.mkdir()
    (first / "tool").write_text("#!/bin/sh\n")  # not executable: skipped
    (second / "tool").write_text("#!/bin/sh\n")
    (second / "tool").chmod(stat.S_IRWXU)
    (first / "dir").mkdir()  # a folder is no program, even an executable one
    (second / "dir").write_text("#!/bin/sh\n")
    (second / "dir").chmod(stat.S_IRWXU)
    (first / "dangling").symlink_to(tmp_path / "nowhere")
    path = os.pathsep.join(["", str(empty), f"{first}/", str(first), str(second), PATH])
    for name in ("tool", "dir", "dangling", "true", "no-such-program-xyz", "nul\0byte"):
        assert _find_program(name, path) == shutil.which(name, path=path), name
    assert _find_program("tool", path) == str(second / "tool")
