"""Real files and frames: pandas' CSVs, parse errors, encodings, archives, the command's
outputs and inputs that pandas users have (chunk readers, lists of frames, small batches)."""
import io
import itertools
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import fastlae
from fastlae import _csv, cli
from naive import reference, sin_angle

pd = pytest.importorskip("pandas")


def _data(n=120, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) * np.linspace(3.0, 0.3, d) + 5.0


def _components_csv(path):
    frame = pd.read_csv(path, index_col=0)
    return frame.loc[[i for i in frame.index if i.startswith("PC")]].iloc[:, 2:].to_numpy(), \
        frame.loc["mean"].iloc[2:].to_numpy(dtype=float)


COLUMNS = {"strings": lambda d: [f"f{j}" for j in range(d)],
           "numbers": lambda d: list(range(d)),
           "wavelengths": lambda d: [400 + 10 * j for j in range(d)]}
INDEXES = {"none": None,
           "unnamed": lambda n: pd.RangeIndex(n),
           "named numbers": lambda n: pd.RangeIndex(n, name="id"),
           "named strings": lambda n: pd.Index([f"S{i:05d}" for i in range(n)], name="sample"),
           "unnamed strings": lambda n: pd.Index([f"S{i:05d}" for i in range(n)])}


@pytest.mark.parametrize("columns, index", list(itertools.product(COLUMNS, INDEXES)))
def test_pandas_csvs_give_the_components_of_their_array(tmp_path, columns, index):
    """Every index (none, unnamed, named; numbers or strings) and column names (strings,
    pandas' numbers, wavelengths) as pandas writes them: the components of the array, the
    mean in the output, and the row labels in the scores. The one truly ambiguous layout (a
    named counting column among named columns) is refused, naming the flags, and read right
    with either."""
    X = _data()
    frame = pd.DataFrame(X, columns=COLUMNS[columns](X.shape[1]))
    path, out, scores = tmp_path / "f.csv", tmp_path / "c.csv", tmp_path / "s.csv"
    if INDEXES[index] is None:
        frame.to_csv(path, index=False)
    else:
        frame.index = INDEXES[index](len(X))
        frame.to_csv(path)
    args = ["pca", str(path), "-k", "2", "-o", str(out), "--transform", str(scores), "--quiet"]
    rc = cli.main(args)
    if columns == "strings" and index == "named numbers":
        assert rc == 2
        assert cli.main(args + ["--index"]) == 0
    else:
        assert rc == 0
    ref = fastlae.pca(X, 2)
    C, mean = _components_csv(out)
    np.testing.assert_allclose(np.abs(C @ ref.components.T), np.eye(2), atol=1e-10)
    np.testing.assert_allclose(mean, X.mean(axis=0), rtol=1e-13)
    S = pd.read_csv(scores)
    if INDEXES[index] is not None:
        assert len(S.columns) == 3 and S.iloc[0, 0] in (0, "S00000")
    np.testing.assert_allclose(np.abs(S.iloc[:, -2:].to_numpy()), np.abs(ref.transform(X)),
                               atol=1e-9)


def test_a_counting_first_column_is_refused_naming_the_flags(tmp_path, capsys):
    X = _data()
    X[:, 0] = np.arange(len(X)) + 1001   # ids, or a feature that counts: it cannot be told
    path = tmp_path / "ids.csv"
    np.savetxt(path, X, delimiter=",", fmt="%.17g", header="id,a,b,c,d,e", comments="")
    assert cli.main(["pca", str(path), "-k", "2", "-o", str(tmp_path / "c.npz")]) == 2
    err = capsys.readouterr().err
    assert "--index" in err and "--no-index" in err and "'id'" in err
    assert cli.main(["pca", str(path), "-k", "2", "-o", str(tmp_path / "c.npz"),
                     "--no-index", "--quiet"]) == 0
    with np.load(tmp_path / "c.npz") as z:
        assert z["components"].shape == (2, 6)


def test_a_header_of_numbers_over_integer_data_is_ambiguous(tmp_path, capsys):
    X = np.random.default_rng(3).integers(0, 50, size=(40, 5))
    path = tmp_path / "years.csv"
    np.savetxt(path, X, delimiter=",", fmt="%d", header="2001,2002,2003,2004,2005",
               comments="")
    assert cli.main(["pca", str(path), "-k", "2", "-o", str(tmp_path / "c.npz")]) == 2
    err = capsys.readouterr().err
    assert "--header" in err and "--no-header" in err
    assert cli.main(["pca", str(path), "-k", "2", "-o", str(tmp_path / "c.npz"), "--header",
                     "--quiet"]) == 0
    with np.load(tmp_path / "c.npz") as z:
        assert list(z["feature_names"]) == ["2001", "2002", "2003", "2004", "2005"]
        np.testing.assert_allclose(z["mean"], X.mean(axis=0), rtol=1e-13)


@pytest.mark.parametrize("engine", ["pandas", "numpy"])
@pytest.mark.parametrize("broken, where", [
    ("1.0,2.0,x,4.0", "line 4, column 3: 'x' is not a number"),
    ("1.0,,3.0,4.0", "line 4, column 2: '' is not a number"),
    ("1.0,2.0,3.0", "line 4 has 3 fields, the first row has 4"),
])
def test_parse_errors_name_line_and_column(tmp_path, capsys, monkeypatch, engine, broken,
                                           where):
    monkeypatch.setattr(_csv, "parser", lambda: engine)
    lines = ["a,b,c,d", "1,2,3,4", "2,3,4,5", broken, "4,5,6,7"]
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    assert cli.main(["pca", str(path), "-k", "1", "-o", str(tmp_path / "c.npz")]) == 2
    err = capsys.readouterr().err
    assert where in err and "bad.csv" in err and "Traceback" not in err


@pytest.mark.parametrize("engine", ["pandas", "numpy"])
def test_both_parsers_read_the_same(tmp_path, monkeypatch, engine):
    X = _data(seed=4)
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    frame.index = [f"r{i}" for i in range(len(X))]
    frame.to_csv(tmp_path / "f.csv", sep=";")
    monkeypatch.setattr(_csv, "parser", lambda: engine)
    Y, names, labels = _csv.read(str(tmp_path / "f.csv"), "f.csv")
    np.testing.assert_array_equal(Y, X)
    assert names == list(frame.columns) and list(labels[0][:2]) == ["r0", "r1"]


def test_encodings(tmp_path, capsys):
    X = _data(seed=5)
    pd.DataFrame(X).to_csv(tmp_path / "u16.csv", index=False, encoding="utf-16")
    assert cli.main(["pca", str(tmp_path / "u16.csv"), "-k", "2", "-o",
                     str(tmp_path / "c.npz"), "--quiet"]) == 0
    (tmp_path / "latin.csv").write_bytes("caf\xe9,b\n1,2\n3,4\n5,7\n".encode("latin-1"))
    assert cli.main(["pca", str(tmp_path / "latin.csv"), "-k", "1", "-o",
                     str(tmp_path / "c.npz")]) == 2
    err = capsys.readouterr().err
    assert "latin.csv" in err and "not UTF-8" in err


def test_a_long_field_is_a_message_not_a_traceback(tmp_path, capsys):
    (tmp_path / "long.csv").write_text("a,b\n" + "1" * 200_000 + ",2\n3,4\n5,6\n")
    assert cli.main(["pca", str(tmp_path / "long.csv"), "-k", "1", "-o",
                     str(tmp_path / "c.npz")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastlae: error:") and "Traceback" not in err


def _huge_npy():
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f8", "fortran_order": False, "shape": (1 << 20, 1 << 20)})
    buf.write(b"\0" * 64)
    return buf.getvalue()


def test_headers_that_claim_terabytes_are_refused_before_allocating(tmp_path, capsys):
    with zipfile.ZipFile(tmp_path / "big.npz", "w") as z:
        z.writestr("X.npy", _huge_npy())
    assert cli.main(["pca", str(tmp_path / "big.npz"), "-k", "1", "-o",
                     str(tmp_path / "c.csv")]) == 2
    assert "8.19e+03 GiB" in capsys.readouterr().err
    proc = _command(["pca", "-", "-k", "1", "-o", str(tmp_path / "c.csv")], stdin=_huge_npy())
    assert proc.returncode == 2 and b"GiB" in proc.stderr and b"Traceback" not in proc.stderr


def _command(args, stdin=None):
    code = "import sys; from fastlae import cli; sys.exit(cli.main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], input=stdin,
                          capture_output=True, timeout=300)


def test_stdin_closed_pk_text_and_a_closed_pipe(tmp_path):
    code = "import sys; from fastlae import cli; sys.exit(cli.main(sys.argv[1:]))"
    proc = subprocess.run([sys.executable, "-c", code, "pca", "-", "-k", "1", "-o",
                           str(tmp_path / "c.csv")], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    closed = subprocess.run(f"{sys.executable} -c '{code}' pca - -k 1 -o {tmp_path}/c.csv <&-",
                            shell=True, capture_output=True, text=True, timeout=300)
    assert closed.returncode == 2 and "standard input is closed" in closed.stderr
    text = "PK_NAME,b,c\nx1,2.5,3\nx2,3.5,1\nx3,1.5,2\nx4,0.5,7\n"   # starts like a zip
    proc = _command(["pca", "-", "-k", "1", "-o", str(tmp_path / "c.csv"), "--quiet"],
                    stdin=text.encode())
    assert proc.returncode == 0, proc.stderr
    np.save(tmp_path / "x.npy", _data())
    piped = subprocess.run(f"{sys.executable} -c '{code}' pca {tmp_path}/x.npy -k 2 "
                           f"-o {tmp_path}/p.csv | true", shell=True, capture_output=True,
                           text=True, timeout=300)
    assert "Broken pipe" not in piped.stderr and (tmp_path / "p.csv").exists()


@pytest.mark.parametrize("args", [["bench", "--reps", "0"], ["bench", "--threads", "0"],
                                  ["demo", "-k", "0"]])
def test_counts_below_one_are_usage_errors(args, capsys):
    assert cli.main(args) == 2
    assert "is below 1" in capsys.readouterr().err


def test_bench_plot_without_matplotlib_fails_before_the_run(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert cli.main(["bench", "--quick", "--plot", "x.png", "--quiet"]) == 2
    assert "matplotlib" in capsys.readouterr().err


def test_outputs_that_cannot_be_created_name_the_output(tmp_path, capsys):
    np.save(tmp_path / "x.npy", _data())
    assert cli.main(["pca", str(tmp_path / "x.npy"), "-k", "1", "-o", "/proc/x.csv"]) == 2
    err = capsys.readouterr().err
    assert "'/proc/x.csv'" in err and "tmp" not in err


def test_demo_on_wide_data_uses_the_sample_gram(capsys):
    assert cli.main(["demo", "--n-samples", "40", "--n-features", "3000", "-k", "3"]) == 0
    assert "X @ X.T" in capsys.readouterr().out


def test_a_npy_components_file_says_what_it_leaves_out(tmp_path, capsys):
    np.save(tmp_path / "x.npy", _data())
    assert cli.main(["pca", str(tmp_path / "x.npy"), "-k", "2", "-o", str(tmp_path / "c.npy"),
                     "--quiet"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "holds the components only" in err[0]
    assert np.load(tmp_path / "c.npy").shape == (2, 6)


def test_warnings_are_one_line(tmp_path, capsys):
    X = _data(n=50, d=4)
    X[:, 3] = X[:, 0]   # rank 3
    np.savetxt(tmp_path / "r.csv", X, delimiter=",")
    assert cli.main(["pca", str(tmp_path / "r.csv"), "-k", "4", "-o", str(tmp_path / "c.npz"),
                     "--quiet"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("fastlae: warning: X has numerical rank 3")


@pytest.mark.parametrize("saved", [".npz", ".csv", ".tsv"])
def test_transform_with_saved_components(tmp_path, saved):
    X = _data(seed=6)
    new = _data(n=30, seed=7)
    pd.DataFrame(X).to_csv(tmp_path / "train.csv")
    pd.DataFrame(new, index=[f"n{i}" for i in range(30)]).to_csv(tmp_path / "new.csv")
    comps = tmp_path / f"c{saved}"
    assert cli.main(["pca", str(tmp_path / "train.csv"), "-k", "3", "-o", str(comps),
                     "--quiet"]) == 0
    assert cli.main(["transform", str(tmp_path / "new.csv"), "--components", str(comps),
                     "-o", str(tmp_path / "s.csv"), "--quiet"]) == 0
    S = pd.read_csv(tmp_path / "s.csv", index_col=0)
    assert list(S.index[:2]) == ["n0", "n1"]
    r = fastlae.pca(X, 3)
    np.testing.assert_allclose(np.abs(S.to_numpy()), np.abs(r.transform(new)), atol=1e-10)
    assert cli.main(["transform", str(tmp_path / "train.csv"), "--components",
                     str(tmp_path / "train.csv"), "-o", str(tmp_path / "t.csv")]) == 2


def test_pca_result_transform_matches_scikit_learn():
    sk = pytest.importorskip("sklearn.decomposition")
    X = _data(n=200, d=8, seed=8)
    r = fastlae.pca(X, 3)
    Z = r.transform(X)
    np.testing.assert_allclose(np.abs(Z), np.abs(sk.PCA(3).fit_transform(X)), atol=1e-9)
    ref = sk.PCA(3).fit(X)
    np.testing.assert_allclose(np.abs(r.inverse_transform(Z) - X.mean(axis=0)),
                               np.abs(ref.inverse_transform(ref.transform(X)) - X.mean(axis=0)),
                               atol=1e-9)
    with pytest.raises(ValueError, match="8 columns"):
        r.transform(X[:, :5])


def _against_lapack(X, r, k):
    w, V, _, _ = reference(X, k)
    np.testing.assert_allclose(r.explained_variance * (len(X) - 1), w, rtol=1e-11)
    assert sin_angle(V, r.components) < 1e-9


def test_pandas_chunk_readers_and_lists_of_frames(tmp_path):
    X = _data(n=500, seed=9)
    frame = pd.DataFrame(X)
    frame.to_csv(tmp_path / "g.csv", index=False)
    r = fastlae.pca(pd.read_csv(tmp_path / "g.csv", chunksize=64), 3)
    _against_lapack(X, r, 3)
    r = fastlae.pca([frame[:200], frame[200:]], 3)
    assert r.certificate == "data"
    _against_lapack(X, r, 3)
    mixed = pd.DataFrame({"a": X[:, 0], "b": X[:, 1] > 5.0, "c": np.round(X[:, 2]).astype(int)})
    r = fastlae.pca([mixed[:250], mixed[250:]], 2)
    _against_lapack(mixed.to_numpy(dtype=float), r, 2)


def test_partial_fit_with_small_and_sparse_batches():
    pytest.importorskip("sklearn")
    import scipy.sparse as sp
    from sklearn.exceptions import NotFittedError

    X = _data(n=70, d=30, seed=10)
    est = fastlae.PCA(10)
    est.partial_fit(X[:7])
    with pytest.raises(NotFittedError):
        est.transform(X[:2])
    for i in range(7, 70, 7):
        est.partial_fit(X[i:i + 7])
    assert est.n_samples_ == 70
    w, V, _, _ = reference(X, 10)
    np.testing.assert_allclose(est.explained_variance_ * 69, w, rtol=1e-10)
    sparse = fastlae.PCA(5)
    S = sp.csr_matrix(X)
    for i in range(0, 70, 20):
        sparse.partial_fit(S[i:i + 20])
    np.testing.assert_allclose(sparse.explained_variance_ * 69, w[:5], rtol=1e-10)
    assert sin_angle(V[:, :5], sparse.components_) < 1e-8


def test_help_names_the_parser():
    text = " ".join(_command(["pca", "--help"]).stdout.decode().split())
    assert "parsed by pandas where it is installed, else by NumPy" in text
