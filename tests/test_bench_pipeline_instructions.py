"""The pipeline's instruction count takes its checkouts and mode as documented.

The count itself runs valgrind for a minute a checkout, so the suite never runs
it; what it checks is that the command's line is read as BENCHMARKS.md writes it,
and that a checkout it cannot count is refused before valgrind starts.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench import pipeline_instructions as counting


def _checkout(root: Path, venv: bool = True) -> Path:
    (root / "bench").mkdir(parents=True)
    (root / "bench" / "pipeline.py").write_text("")
    if venv:
        (root / ".venv" / "bin").mkdir(parents=True)
        (root / ".venv" / "bin" / "python").write_text("")
    return root


def test_this_checkout_alone_is_fed_by_default() -> None:
    args = counting.parse([])
    assert (args.mode, args.checkouts) == ("feed", [counting.HERE])
    assert (counting.HERE / "bench" / "pipeline_instructions.py").is_file()


def test_other_checkouts_are_counted_after_this_one_in_the_order_given(tmp_path: Path) -> None:
    base, older = _checkout(tmp_path / "base"), _checkout(tmp_path / "older")
    args = counting.parse(["--mode", "decode", str(base), str(older)])
    assert (args.mode, args.checkouts) == ("decode", [counting.HERE, base, older])


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--mode", "fused"], "invalid choice: 'fused'"),
        (["{missing}"], "has no bench/pipeline.py"),
        (["{no_venv}"], "has no .venv/bin/python"),
    ],
)
def test_what_cannot_be_counted_is_refused_before_valgrind_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    places = {"missing": tmp_path / "missing", "no_venv": _checkout(tmp_path / "x", venv=False)}
    with pytest.raises(SystemExit) as exited:
        counting.parse([a.format(**places) for a in argv])
    assert exited.value.code == 2
    assert said in capsys.readouterr().err


def test_without_valgrind_it_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    counting.main([])
    assert "valgrind is not installed" in capsys.readouterr().out


def test_the_bench_command_gives_the_rest_of_its_line_to_the_count() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "pipeline_instructions", "--mode", "x", "/nowhere"],
        cwd=counting.HERE,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "pipeline_instructions: error: argument --mode" in done.stderr
