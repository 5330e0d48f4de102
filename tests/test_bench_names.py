"""Bench scripts run with ``bench/`` first on ``sys.path`` (and Ray ships that folder to its workers), so
a script named like one of our packages would be imported in its place."""

from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_no_bench_script_shadows_a_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {pattern.rstrip("*") for pattern in config["tool"]["setuptools"]["packages"]["find"]["include"]}
    scripts = {path.stem for path in (ROOT / "bench").glob("*.py")}
    assert packages and not scripts & packages, sorted(scripts & packages)
