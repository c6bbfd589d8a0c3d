"""The pins in pyproject.toml, environment.yml and requirements/lock.txt agree."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)$")


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pins(lines: list[str], where: str) -> dict[str, str]:
    pins = {}
    for line in lines:
        m = PIN.match(line.strip())
        assert m, f"{where}: {line!r} is not pinned as name==version"
        pins[norm(m.group(1))] = m.group(2)
    return pins


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def pyproject_pins(extras: tuple[str, ...] = ("book", "test")) -> dict[str, str]:
    project = pyproject()["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    return parse_pins(lines, "pyproject.toml")


def lock_pins() -> dict[str, str]:
    lines = [
        ln for ln in (ROOT / "requirements" / "lock.txt").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    return parse_pins(lines, "requirements/lock.txt")


def environment_pip() -> list[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = [d for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip) == 1, "environment.yml needs exactly one pip: section"
    return [str(x) for x in pip[0]["pip"]]


def test_every_pyproject_dependency_is_pinned_exactly():
    project = pyproject()["project"]
    lines = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        lines += extra
    parse_pins(lines, "pyproject.toml")


def test_lock_matches_pyproject():
    lock = lock_pins()
    for name, version in pyproject_pins().items():
        assert name in lock, f"{name} is pinned in pyproject.toml but missing from the lock"
        assert lock[name] == version, (
            f"{name}: pyproject.toml pins {version}, requirements/lock.txt pins {lock[name]}"
        )


def test_environment_yml_matches_pyproject():
    entries = environment_pip()
    pins = parse_pins([e for e in entries if not e.startswith("-")], "environment.yml")
    assert pins == pyproject_pins(), (
        "environment.yml's pip pins differ from pyproject.toml's [project] + [book] + [test] pins: "
        f"only in environment.yml {sorted(set(pins.items()) - set(pyproject_pins().items()))}, "
        f"only in pyproject.toml {sorted(set(pyproject_pins().items()) - set(pins.items()))}"
    )
    assert "-r requirements/lock.txt" in entries
    assert "-e ." in entries


def test_bench_extra_agrees_with_lock_where_both_pin():
    lock = lock_pins()
    for name, version in pyproject_pins(("bench",)).items():
        if name in lock:
            assert lock[name] == version, f"{name}: [bench] pins {version}, the lock {lock[name]}"


def test_installed_versions_match_the_lock():
    from importlib.metadata import PackageNotFoundError, version

    lock = lock_pins()
    for name in pyproject_pins():
        try:
            installed = version(name)
        except PackageNotFoundError:
            raise AssertionError(f"{name} is pinned but not installed") from None
        assert installed == lock[name], f"{name}: installed {installed}, locked {lock[name]}"


@pytest.mark.skipif(os.environ.get("LRCONV_CPU_PATH") != "avx2",
                    reason="runs where tasks.py test chose the AVX2 code path")
def test_the_avx2_code_path_is_the_one_running():
    """tasks.py test asked OpenBLAS and numpy for their AVX2 code: check that they obey."""
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    from threadpoolctl import threadpool_info

    blas = [i for i in threadpool_info() if i["internal_api"] == "openblas"]
    assert blas and all(i["architecture"] == "Haswell" for i in blas), blas
    wide = [g for g in __cpu_dispatch__ if "AVX512" in g or g == "X86_V4"]
    assert __cpu_features__["AVX2"] and wide
    assert not any(__cpu_features__[g] for g in wide), {g: __cpu_features__[g] for g in wide}
