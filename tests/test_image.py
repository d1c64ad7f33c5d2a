"""The container image, read as Docker reads its Dockerfile: stage by stage, each RUN
as the commands its shell runs. What the final image holds is checked from them: the
build stage's environment alone, no installer (pip, setuptools, wheel) in it or in the
image's own Python, and a state directory that belongs to the image's user alone.

With SESD_IMAGE_BUILD=1, run on purpose, the build stage's commands also run for real,
in a scratch directory, and the environment they leave is inspected: they fetch the
locked packages from the index, a minute or two (every other test talks to 127.0.0.1
only)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
DOCKERFILE = ROOT / "Dockerfile"
#: What installs packages: none of it may reach the final image.
INSTALLERS = {"pip", "setuptools", "wheel"}


@dataclass(frozen=True)
class Stage:
    """One FROM and the instructions under it."""

    name: str
    instructions: list[tuple[str, str]]

    def arguments(self, keyword: str) -> list[str]:
        """The arguments of each ``keyword`` instruction, in order."""
        return [rest for word, rest in self.instructions if word == keyword]

    def commands(self) -> list[list[str]]:
        """Every command of the stage's RUN instructions, as the shell splits it (a RUN's
        commands are joined by ``&&``: each must succeed for the build to go on)."""
        found: list[list[str]] = []
        for run in self.arguments("RUN"):
            command: list[str] = []
            for word in shlex.split(run):
                if word == "&&":
                    found.append(command)
                    command = []
                else:
                    command.append(word)
            found.append(command)
        return found


def stages(text: str) -> list[Stage]:
    """The Dockerfile's stages: comments dropped, continued lines joined."""
    logical = re.sub(r"\\\n(\s*#.*\n)*", " ", text)
    result: list[Stage] = []
    for line in logical.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        keyword, _, rest = line.strip().partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else ""
            result.append(Stage(name, []))
        elif result:
            result[-1].instructions.append((keyword, rest.strip()))
    return result


def _option(command: list[str], name: str) -> str:
    """The value of ``--name VALUE`` or ``--name=VALUE`` in ``command``."""
    for i, word in enumerate(command):
        if word == name:
            return command[i + 1]
        if word.startswith(name + "="):
            return word.partition("=")[2]
    raise AssertionError(f"{name} not in {command}")


def _checks(stage: Stage) -> list[list[str]]:
    """The stage's commands that run Python code given on the command line."""
    return [c for c in stage.commands() if len(c) > 2 and c[1] == "-c" and "python" in c[0]]


def test_the_final_image_takes_the_environment_alone_and_no_installer() -> None:
    """The final stage copies one thing from the build: /opt/sesd, a virtual environment
    made without pip and filled by the build's own pip (``--python``), so no installer
    is in it; then the image's own Python loses pip, setuptools and wheel, and
    ensurepip's copies of them, before the build checks that none is left."""
    build, final = stages(DOCKERFILE.read_text())
    assert build.name == "build"
    assert final.arguments("COPY") == ["--from=build /opt/sesd /opt/sesd"]
    commands = build.commands()
    made = [c for c in commands if c[:3] == ["python", "-m", "venv"] and c[-1] == "/opt/sesd"]
    assert made == [["python", "-m", "venv", "--without-pip", "/opt/sesd"]]
    for command in commands:
        # Nothing runs an installer of /opt/sesd's own: it has none.
        assert not command[0].startswith("/opt/sesd/bin/pip"), command
        assert command[:3] != ["/opt/sesd/bin/python", "-m", "pip"], command
        if "install" in command and "/opt/sesd/bin/python" in command:
            assert command[0] == "/opt/build/bin/pip", command
            assert _option(command, "--python") == "/opt/sesd/bin/python"
    # The build's pip puts both installs there: the locked dependencies and the wheel.
    installs = [c for c in commands if "--python" in c]
    assert [c[-2:] for c in installs] == [
        ["-r", "runtime.txt"],
        ["--no-deps", "/tmp/wheels/sesd-*.whl"],
    ]
    final_commands = final.commands()
    (uninstall,) = [c for c in final_commands if c[:4] == ["python", "-m", "pip", "uninstall"]]
    assert "--yes" in uninstall
    assert {word for word in uninstall[4:] if not word.startswith("-")} == INSTALLERS
    version = re.search(r"ARG PYTHON_IMAGE=python:(\d+\.\d+)\.", DOCKERFILE.read_text())
    assert version
    ensurepip = f"/usr/local/lib/python{version.group(1)}/ensurepip"
    removed = [path for c in final_commands if c[:2] == ["rm", "-rf"] for path in c[2:]]
    assert any(fnmatch(ensurepip, pattern) for pattern in removed), removed
    # Each stage's last command checks what it made (test below): the build's by the
    # environment's Python, the final's by the image's (PATH names the venv's later).
    assert commands[-1] == _checks(build)[-1]
    assert commands[-1][0] == "/opt/sesd/bin/python"
    assert final_commands[-1] == _checks(final)[-1]
    assert final_commands[-1][0] == "python"


def test_the_checks_fail_while_an_installer_is_left(tmp_path: Path) -> None:
    """Each stage's closing check, run by a Python that holds pip, setuptools and wheel
    (this test's own environment), fails and names them; run by an environment without
    them, the build's check passes, and the final stage's fails on ensurepip alone (the
    stand-in's standard library keeps it: the image's does not)."""
    build, final = stages(DOCKERFILE.read_text())
    (build_check,) = _checks(build)
    (final_check,) = _checks(final)
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", bare], check=True, timeout=60)

    def check(command: list[str], python: Path | str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(python), *command[1:]], capture_output=True, text=True, check=False, timeout=60
        )

    for command, extra in ((build_check, set()), (final_check, {"ensurepip"})):
        assert set(command[3:]) == INSTALLERS | extra
        full = check(command, sys.executable)
        assert full.returncode == 1
        assert full.stderr.startswith("installers left: ['pip', 'setuptools', 'wheel'")
        empty = check(command, bare / "bin" / "python")
        if extra:
            assert (empty.returncode, empty.stderr) == (1, "installers left: ['ensurepip']\n")
        else:
            assert (empty.returncode, empty.stderr) == (0, "")


def test_the_state_directory_is_the_images_users_alone() -> None:
    """/var/lib/sesd, where [state] path points in the manifests' config and the example,
    exists in the image, made once the user exists, owned by the user and group that
    USER runs as, mode 0700: a volume mounted there empty (a Docker named volume)
    starts as sesd's, so sesd can save its state and no one else can read it."""
    (_, final) = stages(DOCKERFILE.read_text())
    commands = final.commands()
    (groupadd,) = [c for c in commands if c[0] == "groupadd"]
    (useradd,) = [c for c in commands if c[0] == "useradd"]
    gids = {groupadd[-1]: _option(groupadd, "--gid")}
    uids = {useradd[-1]: _option(useradd, "--uid")}
    assert gids[_option(useradd, "--gid")] == _option(groupadd, "--gid")
    (user,) = final.arguments("USER")
    (made,) = [c for c in commands if c[0] == "install" and "--directory" in c]
    owner, group = _option(made, "--owner"), _option(made, "--group")
    assert f"{uids.get(owner, owner)}:{gids.get(group, group)}" == user
    assert _option(made, "--mode") == "0700"
    assert commands.index(useradd) < commands.index(made)
    state = tomllib.loads((ROOT / "config" / "kubernetes" / "sesd.toml").read_text())["state"]
    example = (ROOT / "config" / "sesd.example.toml").read_text()
    commented = re.search(r'^# path = "(.*)"$', example.split("\n[state]\n")[1], re.M)
    assert commented
    assert made[-1] == str(Path(state["path"]).parent) == str(Path(commented[1]).parent)


@pytest.mark.timeout(600)
@pytest.mark.skipif(
    os.environ.get("SESD_IMAGE_BUILD") != "1",
    reason="fetches the locked packages from the index (a minute or two): SESD_IMAGE_BUILD=1",
)
def test_the_build_stage_makes_an_environment_without_installers(tmp_path: Path) -> None:
    """The build stage's RUN, as written, with /opt and /tmp/wheels moved into a scratch
    directory and its COPY'd files in the working directory: it succeeds (its own
    checks included) and leaves /opt/sesd holding sesd and the locked runtime
    dependencies, and no pip, setuptools or wheel, nor a script of theirs."""
    build, _ = stages(DOCKERFILE.read_text())
    (workdir,) = build.arguments("WORKDIR")
    source = tmp_path / workdir.lstrip("/")
    source.mkdir(parents=True)
    for copy in build.arguments("COPY"):
        *paths, destination = copy.split()
        for path in paths:
            target = source / destination / (Path(path).name if destination == "./" else "")
            if (ROOT / path).is_dir():
                shutil.copytree(ROOT / path, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(ROOT / path, target)
    environment = dict(re.findall(r"(\w+)=(\S+)", " ".join(build.arguments("ENV"))))
    python = Path(sys.executable).parent  # `python` for the stage's commands
    env = {**os.environ, **environment, "PATH": f"{python}:{os.environ['PATH']}"}
    for run in build.arguments("RUN"):
        moved = re.sub(r"(?<=\s)/(?=(opt|tmp)/)", f"{tmp_path}/", run)
        result = subprocess.run(
            ["/bin/sh", "-c", moved],
            cwd=source,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=540,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    venv = tmp_path / "opt" / "sesd"
    listed = subprocess.run(
        [venv / "bin" / "python", "-c", "import importlib.metadata as m; "
         "print('\\n'.join(d.metadata['Name'] for d in m.distributions()))"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    names = {re.sub(r"[-_.]+", "-", name).lower() for name in listed.stdout.split()}
    locked = re.findall(r"^([\w.-]+)==", (ROOT / "requirements" / "runtime.txt").read_text(), re.M)
    assert {name.lower().replace("_", "-") for name in locked} | {"sesd"} == names
    assert not names & INSTALLERS
    assert not list((venv / "bin").glob("pip*"))
    assert not list((venv / "bin").glob("wheel*"))
