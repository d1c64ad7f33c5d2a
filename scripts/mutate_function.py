"""mutmut's mutants of one function, each applied in place and run against named tests.

``mutmut run`` first runs every selected test to map tests to functions (a quarter of
an hour on a shared machine) before it runs a mutant. For the mutants of one function
against tests chosen by hand, this applies each mutant mutmut 3 generates for it to the
source file, runs pytest (stopping at the first failure) and restores the file:

    .venv/bin/python scripts/mutate_function.py sesd/core/windows/ring_reads.py moved_over \\
        tests/test_quiet_buckets.py tests/test_ring.py

A method may be named with its class (``Listing.labels``): the name alone chooses
every function and method of that name in the file.

Prints each mutant's number, killed or SURVIVED, and its change (numbered as listed
here: mutmut's own names number a method's mutants in the same order, from 1). Run it
in a clone of your own: the source file is mutated while the tests run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import libcst as cst
from mutmut.mutation.file_mutation import create_mutations, deep_replace


def main(argv: list[str]) -> int:
    """Run the mutants of ``argv[1]`` (a function or method name) in ``argv[0]``."""
    path, function, tests = Path(argv[0]), argv[1], argv[2:]
    code = path.read_text()
    module, mutations, *_ = create_mutations(str(path), code)
    owner, _, function = function.rpartition(".")
    methods = {
        id(node)
        for cls in module.body
        if isinstance(cls, cst.ClassDef) and cls.name.value == owner
        for node in cls.body.body
    }
    chosen = [
        m
        for m in mutations
        if getattr(getattr(m.contained_by_top_level_function, "name", None), "value", None)
        == function
        and (not owner or id(m.contained_by_top_level_function) in methods)
    ]
    env = dict(os.environ, SESD_MUTATION="1")
    survived = 0
    try:
        for number, mutation in enumerate(chosen, 1):
            mutated = deep_replace(module, mutation.original_node, mutation.mutated_node)
            path.write_text(mutated.code)  # type: ignore[union-attr]
            pytest = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:randomly"]
            run = [*pytest, *tests]  # the caller's test files
            done = subprocess.run(run, env=env, capture_output=True, check=False)  # noqa: S603
            was = module.code_for_node(mutation.original_node).strip()[:80]
            now = module.code_for_node(mutation.mutated_node).strip()[:80]
            status = "killed" if done.returncode else "SURVIVED"
            survived += not done.returncode
            print(f"{number} {status} {was!r} -> {now!r}", flush=True)
    finally:
        path.write_text(code)
    print(f"{len(chosen) - survived} killed of {len(chosen)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
