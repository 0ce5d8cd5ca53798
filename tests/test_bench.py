"""``fastlae bench`` and the asv suite: they run, and their output has the promised shape."""
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from fastlae import cli

ROOT = pathlib.Path(__file__).resolve().parents[1]
COLUMNS = {"method", "seconds", "ratio", "eig_error", "sine", "products", "note"}


def test_bench_quick_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert cli.main(["bench", "--quick", "--shape", "600", "30", "3", "40", "400", "3",
                     "--reps", "1", "--json", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert {"cpus", "blas", "numpy", "scipy", "fastlae"} <= set(result["machine"])
    assert [(s["n_samples"], s["n_features"], s["k"]) for s in result["shapes"]] == \
        [(600, 30, 3), (40, 400, 3)]
    for shape in result["shapes"]:
        names = [row["method"] for row in shape["rows"]]
        assert names[:4] == ["fastlae auto", "fastlae eigh", "bare Gram product",
                             "Gram + scipy eigh"]
        assert "sklearn arpack" in names and "sklearn randomized" in names
        assert ("sklearn covariance_eigh" in names) == (shape["n_samples"] >= shape["n_features"])
        for row in shape["rows"]:
            assert set(row) == COLUMNS and row["seconds"] > 0
            if row["method"] != "bare Gram product":
                assert row["eig_error"] < 1e-8 or row["method"] == "sklearn randomized"
        auto = shape["rows"][0]
        assert auto["ratio"] == 1.0 and auto["sine"] < 1e-8
    assert printed.count("| method | seconds | / fastlae auto |") == 2
    assert "covariance_eigh is skipped on wide data" in printed


def test_bench_sparse_and_file_cases():
    """A sparse matrix against SciPy's eigsh (its products counted) and ARPACK, and a .npy
    file against the same call in memory and ARPACK on the loaded file."""
    pytest.importorskip("sklearn")
    from fastlae import bench

    result = bench.run([("sparse", 3000, 300, 3, 0.02), ("file", 40, 600, 3)], reps=1,
                       pause=0.0)
    sparse, file = result["shapes"]
    assert sparse["kind"] == "sparse" and sparse["density"] == 0.02
    names = {row["method"]: row for row in sparse["rows"]}
    assert set(names) == {"fastlae auto", "scipy eigsh", "sklearn arpack"}
    assert names["scipy eigsh"]["products"] > 3 and names["fastlae auto"]["sine"] < 1e-8
    assert all(row["eig_error"] < 1e-8 for row in sparse["rows"])
    names = {row["method"]: row for row in file["rows"]}
    assert set(names) == {"fastlae auto", "fastlae in memory", "sklearn arpack"}
    assert all(row["sine"] < 1e-8 for row in file["rows"])
    text = bench.format_summary(result)
    assert "sparse 3000 x 300 (2%), 3" in text and "file 40 x 600, 3" in text


def test_bench_without_scikit_learn_skips_its_solvers(monkeypatch):
    from fastlae import bench

    monkeypatch.setitem(sys.modules, "sklearn.decomposition", None)
    import numpy as np

    calls, notes = bench.methods(np.ones((20, 3)), 1)
    assert not [name for name in calls if name.startswith("sklearn")]
    assert notes and "scikit-learn is not installed" in notes[0]


def test_bench_plot(tmp_path):
    pytest.importorskip("matplotlib")
    from fastlae import bench

    result = bench.run([(300, 20, 2)], reps=1, with_peers=False, pause=0.0)
    path = bench.plot(result, str(tmp_path / "b.png"))
    assert pathlib.Path(path).stat().st_size > 1000


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("asv") is None and not (pathlib.Path(sys.executable).parent
                                                          / "asv").exists(),
                    reason="asv is not installed")
def test_asv_suite_checks(tmp_path):
    asv = shutil.which("asv") or str(pathlib.Path(sys.executable).parent / "asv")
    env = dict(os.environ, HOME=str(tmp_path))   # asv's machine file goes to a fresh home
    subprocess.run([asv, "machine", "--yes"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    out = subprocess.run([asv, "check", "-E", f"existing:{sys.executable}"], cwd=ROOT,
                         env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "No problems found" in out.stdout
