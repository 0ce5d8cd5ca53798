"""Each bad input gets the documented exception and message."""
import numpy as np
import pytest

import fastlae

X = np.random.default_rng(0).standard_normal((20, 5))

BAD = [
    (np.zeros(5), {}, ValueError, "ndim=1"),
    (np.zeros((2, 3, 4)), {}, ValueError, "ndim=3"),
    (np.zeros((0, 5)), {}, ValueError, r"shape \(0, 5\)"),
    (np.zeros((5, 0)), {}, ValueError, r"shape \(5, 0\)"),
    (np.array([[1.0, np.nan], [2.0, 3.0]]), {"k": 1}, ValueError, "contains NaN"),
    (np.array([[1.0, np.inf], [2.0, 3.0]], dtype=np.float32), {"k": 1}, ValueError,
     "contains infinity"),
    (np.asfortranarray(np.where(np.eye(6) > 0, np.nan, 1.0)), {"k": 1}, ValueError,
     "contains NaN"),
    (np.where(np.arange(40).reshape(2, 20) == 7, -np.inf, 1.0), {"k": 1}, ValueError,
     "contains infinity"),
    (np.full((4, 3), 1e308), {"k": 1}, ValueError, "overflows float64"),
    (np.array([[1.0, np.nan], [2.0, 3.0]], dtype=np.float32), {"k": 1}, ValueError,
     "contains NaN"),
    (np.array([[1.0, np.inf], [2.0, 3.0]]), {"k": 1}, ValueError, "contains infinity"),
    (np.ones((3, 3), dtype=complex), {}, TypeError, "complex"),
    (np.array([["a", "b"], ["c", "d"]]), {"k": 1}, TypeError, "dtype <U1"),
    (np.ones((3, 3), dtype=object), {}, TypeError, "dtype object"),
    ([[1.0, 2.0], [3.0]], {"k": 1}, ValueError, "np.asarray"),
    (X, {"k": 0}, ValueError, r"k=0 is out of range.*\[1, 5\]"),
    (X, {"k": 6}, ValueError, r"k=6 is out of range"),
    (X, {"k": 2.0}, TypeError, "k must be an integer"),
    (X, {"k": True}, TypeError, "k must be an integer"),
    (X, {"k": "2"}, TypeError, "k must be an integer"),
    (X, {"solver": None}, ValueError, "solver=None is not one of"),
    (X, {"max_iter": "10"}, TypeError, "max_iter must be a positive integer"),
    (X, {"lam": "1"}, ValueError, "lam must be a finite number >= 0"),
    (X, {"n_latent": 9}, ValueError, r"n_latent=9 is out of range"),
    (X, {"n_threads": 1.5}, ValueError, "n_threads must be a positive integer"),
    (X, {"solver": "svd"}, ValueError, "solver='svd' is not one of"),
    (X, {"tol": 0.0}, ValueError, "tol must be a finite number > 0, got 0.0"),
    (X, {"tol": float("nan")}, ValueError, "tol must be"),
    (X, {"max_iter": 0}, ValueError, "max_iter must be a positive integer"),
    (X, {"max_iter": 2.5}, ValueError, "max_iter must be a positive integer"),
    (X, {"lam": -1.0}, ValueError, "lam must be a finite number >= 0"),
    (X, {"lam": float("inf")}, ValueError, "lam must be a finite number >= 0"),
    (X, {"n_latent": 1}, ValueError, r"n_latent=1 is out of range"),
    (X, {"n_threads": 0}, ValueError, "n_threads must be a positive integer"),
    (X, {"random_state": -3}, ValueError, "random_state must be None"),
    (X, {"random_state": "seed"}, ValueError, "random_state must be None"),
]


@pytest.mark.parametrize("data, kwargs, exc, match", BAD)
def test_bad_input(data, kwargs, exc, match):
    kwargs = {"k": 2, **kwargs}
    k = kwargs.pop("k")
    with pytest.raises(exc, match=match):
        fastlae.pca(data, k, **kwargs)


# The array-valued rows of the table, as files given to the CLI: each becomes one line on
# stderr and exit status 2, never a traceback.
def _cli_expressible(row):
    data, kwargs = row[0], row[1]
    k = kwargs.get("k", 2)
    return (isinstance(data, np.ndarray) and data.dtype.kind in "biufc"
            and isinstance(k, int) and not isinstance(k, bool)
            and set(kwargs) <= {"k", "solver", "tol", "random_state"}
            and isinstance(kwargs.get("solver", ""), str)
            and isinstance(kwargs.get("random_state", 0), int))


FILE_ROWS = [row for row in BAD if _cli_expressible(row)]


@pytest.mark.parametrize("data, kwargs, exc, match", FILE_ROWS)
def test_cli_reports_bad_input_in_one_line(tmp_path, capsys, data, kwargs, exc, match):
    from fastlae import cli

    np.save(tmp_path / "x.npy", data)
    kwargs = {"k": 2, **kwargs}
    argv_kwargs = dict(kwargs)
    argv = ["pca", str(tmp_path / "x.npy"), "-k", str(kwargs.pop("k")), "-o",
            str(tmp_path / "o.npz")]
    if "solver" in kwargs:
        argv += ["--solver", str(kwargs.pop("solver"))]
    if "tol" in kwargs:
        argv += ["--tol", str(kwargs.pop("tol"))]
    if "random_state" in kwargs:
        argv += ["--seed", str(kwargs.pop("random_state"))]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    from fastlae._errors import COMPILING

    err = err.replace(COMPILING + "\n", "")   # a first run on a fresh cache says it compiles
    import re

    assert re.match(r"fastlae( pca)?: error:", err) and err.count("\n") == 1
    assert "Traceback" not in err

    if "solver" in argv_kwargs:   # argparse checks the choices before anything runs
        match = "invalid choice: 'svd'"
    assert re.search(match, err)
    assert not (tmp_path / "o.npz").exists()


@pytest.mark.parametrize("wrap", ["matrix", "masked, no mask", "masked, all False",
                                  "memoryview", "memoryview of F order"])
def test_array_likes_are_converted(wrap):
    X = np.random.default_rng(0).standard_normal((40, 6))
    obj = {"matrix": lambda: np.asmatrix(X),
           "masked, no mask": lambda: np.ma.masked_array(X),
           "masked, all False": lambda: np.ma.masked_array(X, mask=np.zeros(X.shape, bool)),
           "memoryview": lambda: memoryview(X),
           "memoryview of F order": lambda: memoryview(np.asfortranarray(X))}[wrap]()
    r = fastlae.pca(obj, 3)
    ref = fastlae.pca(X, 3)
    np.testing.assert_allclose(r.explained_variance, ref.explained_variance, rtol=1e-12)


def test_masked_entries_are_refused_by_name():
    X = np.ma.masked_array(np.ones((10, 4)), mask=np.zeros((10, 4), bool))
    X.mask[3, 2] = True
    with pytest.raises(ValueError, match=r"1 masked entries \(the first at row 3, column 2\)"):
        fastlae.pca(X, 2)


def test_a_frame_of_float_int_and_bool_columns():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.standard_normal(60), rng.integers(0, 9, 60),
                         rng.integers(0, 2, 60), rng.standard_normal(60)])
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1].astype(np.int64),
                          "c": X[:, 2].astype(bool), "d": X[:, 3].astype(np.float32)})
    r = fastlae.pca(frame, 2)
    ref = fastlae.pca(np.column_stack([X[:, :3], X[:, 3].astype(np.float32)]), 2)
    np.testing.assert_allclose(r.explained_variance, ref.explained_variance, rtol=1e-12)
    assert r.components.dtype == np.float64
    single = fastlae.pca(pd.DataFrame(X.astype(np.float32)), 2)   # one dtype: kept
    assert single.components.dtype == np.float32
