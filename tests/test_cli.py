import numpy as np
import pytest

from fastlae import cli


def test_pca_roundtrip_npy_csv_npz(tmp_path, capsys):
    X = np.random.default_rng(1).standard_normal((40, 6))
    np.save(tmp_path / "x.npy", X)
    np.savetxt(tmp_path / "x.csv", X, delimiter=",")
    np.savez(tmp_path / "x.npz", X=X, other=np.ones(3))
    outs = []
    for name in ["x.npy", "x.csv", "x.npz"]:
        out = tmp_path / (name + ".out.npz")
        assert cli.main(["pca", str(tmp_path / name), "-k", "2", "-o", str(out)]) == 0
        with np.load(out) as z:
            outs.append(z["components"])
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-10)
    np.testing.assert_allclose(outs[0], outs[2], atol=1e-12)
    assert "explained variance" in capsys.readouterr().out


@pytest.mark.parametrize("name, content, match", [
    ("missing.npy", None, "cannot read"),
    ("bad.txt", "1,2", "unsupported file type '.txt'"),
    ("bad.npy", "not an array", "cannot read"),
])
def test_errors_are_one_line(tmp_path, capsys, name, content, match):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    out = tmp_path / "o.npz"
    assert cli.main(["pca", str(path), "-k", "1", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastlae: error:") and match in err and err.count("\n") == 1
    assert not out.exists()


def test_bad_k_from_cli(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.ones((4, 3)))
    assert cli.main(["pca", str(tmp_path / "x.npy"), "-k", "9", "-o", str(tmp_path / "o.npz")]) == 2
    assert "k=9 is out of range" in capsys.readouterr().err


def test_demo_small(capsys):
    assert cli.main(["demo", "--n-samples", "3000", "--n-features", "40", "-k", "5"]) == 0
    out = capsys.readouterr().out
    assert "solver:" in out and "agreement" in out
