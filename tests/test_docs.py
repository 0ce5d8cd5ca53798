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
