"""Every Python code block of the README and docs/ runs as written; the numpydoc Examples of the
public functions pass as doctests."""
import doctest
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(path):
    return BLOCK.findall(path.read_text())


def test_the_pages_have_code():
    assert python_blocks(ROOT / "README.md") and python_blocks(ROOT / "docs" / "theory.md")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_code_blocks_run(page, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for block in python_blocks(page):   # one namespace per page: later blocks build on earlier
        exec(compile(block, str(page), "exec"), namespace)


@pytest.mark.parametrize("module", ["fastlae.api", "fastlae.estimator", "fastlae.theory",
                                    "fastlae.training"])
def test_examples(module):
    import importlib

    mod = importlib.import_module(module)
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_readme_pca_commands_run(tmp_path):
    """The README's ``fastlae pca`` lines run as written on a CSV and a TSV file."""
    import os
    import subprocess
    import sys

    import numpy as np

    X = np.random.default_rng(0).standard_normal((80, 12)) * np.linspace(3, 0.3, 12)
    header = ",".join(f"feature {j}" for j in range(12))
    np.savetxt(tmp_path / "data.csv", X, delimiter=",", header=header, comments="")
    np.savetxt(tmp_path / "data.tsv", X, delimiter="\t")
    text = (ROOT / "README.md").read_text()
    lines = [line.split("#")[0].strip() for block in re.findall(r"^ *```bash\n(.*?)^ *```", text,
                                                                 re.S | re.M)
             for line in block.splitlines() if "fastlae pca" in line]
    assert len(lines) >= 2
    bindir = os.path.dirname(sys.executable)   # the fastlae script of this environment
    env = {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", "")}
    for line in lines:
        proc = subprocess.run(line, shell=True, cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, (line, proc.stderr)
    assert (tmp_path / "components.csv").read_text().startswith(
        ",explained_variance,explained_variance_ratio,feature 0,")
    assert (tmp_path / "scores.csv").exists() and (tmp_path / "components.npz").exists()
