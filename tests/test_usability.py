"""What a user meets around the numbers: input errors that say what to do, pandas frames,
missing extras, the result's repr, progress, verbose output and the ``fastlae`` logger."""
import io
import logging
import pathlib
import sys

import numpy as np
import pytest

import fastlae
from fastlae import _errors as E
from fastlae._progress import Progress

X = np.random.default_rng(0).standard_normal((50, 6)) * np.linspace(3, 0.5, 6)


@pytest.mark.parametrize("name", ["x.csv", "data/x.txt", "x.npz"])
def test_paths_of_other_files_say_what_to_do(name):
    for path in (name, pathlib.Path(name)):
        with pytest.raises(TypeError) as err:
            fastlae.pca(path, 2)
        text = str(err.value)
        assert f"a path ({name!r}) to a file fastlae.pca does not read" in text
        assert "reads .npy files" in text and f"fastlae pca {name} -k K -o out.npz" in text


def test_a_stream_of_rows_says_to_make_blocks():
    with pytest.raises(ValueError, match=r"block 0 .* shape \(6,\).*row\[None, :\]"):
        fastlae.pca((row for row in X), 2)


def test_pandas_frames():
    pd = pytest.importorskip("pandas")
    rounded = np.round(X * 100)
    frames = [(pd.DataFrame(X), X), (pd.DataFrame(X).astype("Float64"), X),
              (pd.DataFrame(rounded).astype("Int64"), rounded)]
    for df, same in frames:
        r = fastlae.pca(df, 2)
        ref = fastlae.pca(same, 2)
        np.testing.assert_allclose(r.explained_variance, ref.explained_variance, rtol=1e-12)
    r = fastlae.pca(pd.Series(X[:, 0]).to_frame(), 1)
    assert r.components.shape == (1, 1)
    missing = pd.DataFrame(X).astype("Float64")
    missing.iloc[3, 2] = pd.NA
    with pytest.raises(ValueError, match="contains NaN"):
        fastlae.pca(missing, 2)


def test_pca_without_scikit_learn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)   # import sklearn raises ImportError
    monkeypatch.delitem(sys.modules, "fastlae.estimator", raising=False)
    with pytest.raises(ImportError) as err:
        fastlae.PCA
    assert str(err.value) == E.NO_SKLEARN
    assert "pip install scikit-learn" in str(err.value)
    assert fastlae.pca(X, 1).converged   # the functional API does not need it


def test_paper_without_matplotlib(monkeypatch, tmp_path, capsys):
    from fastlae import cli

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    assert cli.main(["paper", "--out", str(tmp_path / "figs")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install matplotlib" in err


def test_repr_is_a_short_summary():
    r = fastlae.pca(np.random.default_rng(1).standard_normal((300, 40)), 12, solver="als")
    text = repr(r)
    assert len(text.splitlines()) == 2 and len(text) < 300
    for part in ("k=12", "n_features=40", "solver='als'", f"n_iter={r.n_iter}",
                 f"converged={r.converged}", "explained_variance_ratio=[", " ..."):
        assert part in text
    assert f"{r.residuals.max():.1e}" in text


def test_logger_and_verbose(caplog, capsys):
    with caplog.at_level(logging.INFO, logger="fastlae"):
        fastlae.pca(X, 2, solver="als")
    messages = [rec.getMessage() for rec in caplog.records if rec.name == "fastlae"]
    assert len(messages) == 3 and "solver als" in messages[0] and "gram" in messages[1]
    assert "converged" in messages[2]
    assert capsys.readouterr().err == ""   # logging, not printing, unless verbose
    caplog.clear()
    fastlae.pca(X, 2, verbose=True)
    err = capsys.readouterr().err
    assert err.count("fastlae: ") == 3 and "largest residual" in err


def test_progress_line_draws_only_on_a_terminal():
    buf = io.StringIO()
    line = Progress("job:", enabled=True, stream=buf)
    line(3, 10, "blocks")
    line(0, 0, "als: 5 updates")
    line.close()
    text = buf.getvalue()
    assert "\r" in text and "[######" in text and "3/10 blocks" in text and "5 updates" in text
    assert text.endswith("\r")   # cleared at the end
    quiet = io.StringIO()   # StringIO is no terminal: enabled=None stays silent
    Progress("job:", stream=quiet)(1, 2, "x")
    assert quiet.getvalue() == ""


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_of_a_real_call(monkeypatch):
    """A call long enough to be ticked draws the Gram pass or the solver's updates."""
    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    rng = np.random.default_rng(2)
    Y = rng.standard_normal((3000, 300))
    with pytest.warns(fastlae.ConvergenceWarning):
        fastlae.pca(Y, 20, solver="gd", tol=1e-300, max_iter=3000, progress=True)
    text = term.getvalue()
    assert text.startswith("\r") and "fastlae.pca 3000 x 300, k=20:" in text
    assert "gd:" in text and "updates, residual" in text
    monkeypatch.setattr(sys, "stderr", _Terminal())
    with pytest.warns(fastlae.ConvergenceWarning):
        fastlae.pca(Y, 20, solver="gd", tol=1e-300, max_iter=3000)   # progress=False
    assert sys.stderr.getvalue() == ""


def test_progress_of_a_stream(monkeypatch, tmp_path, by_rows):
    """Reading a file shows the rows read, the rate and the bar (the rows are known)."""
    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    monkeypatch.setattr("fastlae._threads.TICK", 0.0)   # draw at every poll
    monkeypatch.setattr("fastlae._stream.FILE_BLOCK_ELEMENTS", 1 << 14)
    np.save(tmp_path / "x.npy", np.random.default_rng(3).standard_normal((40000, 30)))
    fastlae.pca(str(tmp_path / "x.npy"), 3, progress=True)
    text = term.getvalue()
    assert "fastlae.pca file, k=3:" in text and "rows/s" in text and "/40000" in text
