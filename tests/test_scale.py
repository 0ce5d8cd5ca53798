"""Data beyond one array in memory: chunk streams, .npy files and memory maps, partial fits,
scipy.sparse and dask arrays. Each path gives the in-memory answer on the same data."""
import os
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import fastlae
from fastlae.solvers import krylov
from fastlae import datasets
from fastlae._stream import GramSum
from naive import reference, sin_angle

K = 5


def _blocks(X, seed=0, low=1, high=400):
    """Row blocks of X of random lengths (some of one row)."""
    rng = np.random.default_rng(seed)
    i = 0
    while i < len(X):
        b = int(rng.integers(low, high))
        yield X[i:i + b]
        i += b


def _agrees(r, X, k=K, sine=True):
    w, V, _, _ = reference(X, k)
    assert r.converged
    np.testing.assert_allclose(r.explained_variance * (len(X) - 1), w, rtol=0, atol=1e-12 * w[0])
    np.testing.assert_allclose(r.mean, X.mean(axis=0), rtol=1e-13, atol=1e-13 * np.abs(X).max())
    if sine:
        assert sin_angle(V, r.components) < 1e-10


def _separated(X, k=K):
    w = np.linalg.eigvalsh(np.cov(X.T))[::-1]
    return w[k - 1] - w[k] > 1e-6 * w[0] and w[k - 1] > 1e-10 * w[0]


@pytest.mark.parametrize("name", sorted(datasets.ZOO))
def test_streams_match_memory_across_the_zoo(name):
    X = np.asarray(datasets.zoo(name, 1500, 40, K, random_state=3), dtype=np.float64)
    sine = _separated(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastlae.RankWarning)
        one_shot = fastlae.pca(_blocks(X), K)
        replay = fastlae.pca(lambda: _blocks(X, seed=1), K)
    assert one_shot.certificate == "gram" and replay.certificate == "data"
    if name != "rank_below_k":   # there the trailing components are an arbitrary completion
        _agrees(one_shot, X, sine=sine)
        _agrees(replay, X, sine=sine)


@pytest.mark.parametrize("offset, drift", [(1e6, 0.0), (0.0, 30.0), (-3e4, 5.0), (1e6, 10.0)])
def test_large_and_drifting_means_cost_no_precision(offset, drift):
    rng = np.random.default_rng(5)
    X = datasets.with_spectrum(3000, 30, np.geomspace(100, 1, 30), random_state=rng)
    X += offset + drift * np.linspace(0, 1, 3000)[:, None] * rng.standard_normal(30)
    r = fastlae.pca(_blocks(X, high=900), K)
    _agrees(r, X)


def test_blocks_of_any_kind():
    X = datasets.decaying(2000, 25, random_state=2)
    ref = fastlae.pca(X, K)
    chunks = [X[:700], X[700:701], X[701:1500], X[1500:]]
    for src in (chunks, tuple(chunks), iter(chunks), (c.tolist() for c in chunks),
                lambda: chunks, map(np.asfortranarray, chunks)):
        r = fastlae.pca(src, K)
        np.testing.assert_allclose(r.explained_variance, ref.explained_variance, rtol=1e-12)
    assert fastlae.pca(chunks, K).certificate == "data"   # a list can be read again
    r32 = fastlae.pca([c.astype(np.float32) for c in chunks], K)
    assert r32.components.dtype == np.float32
    ri = fastlae.pca([np.round(c * 100).astype(np.int32) for c in chunks], K)
    assert ri.components.dtype == np.float64


@pytest.mark.parametrize("blocks, exc, match", [
    ([np.ones((3, 4)), np.ones((3, 5))], ValueError, "block 1 of the stream has 5 columns"),
    ([np.ones((3, 4)), np.ones((3, 4), np.float32)], TypeError,
     "block 1 of the stream has dtype float32, the blocks before it float64"),
    ([np.ones((3, 4)), np.ones((2, 4)), np.full((3, 4), np.nan)], ValueError,
     "block 2 of the stream contains NaN"),
    ([np.full((3, 4), np.inf)], ValueError, "block 0 of the stream contains infinity"),
    ([np.ones((3, 4)), np.ones(4)], ValueError, r"block 1 of the stream has shape \(4,\)"),
    ([np.ones((3, 4)), np.array([["a"] * 4])], TypeError, "block 1 of the stream has dtype <U1"),
    ([np.ones((3, 4)), np.full((4, 4), 1e308)], ValueError, r"max \|x\| = 1e\+308.*overflows"),
    ([], ValueError, "the stream yielded no rows"),
    ([np.ones((0, 4))], ValueError, "the stream yielded no rows"),
    ([np.ones((2, 4))], ValueError, r"k=5 is out of range"),
])
def test_bad_blocks_are_named(blocks, exc, match):
    with pytest.raises(exc, match=match):
        fastlae.pca(iter(blocks), K)


@pytest.mark.parametrize("fits", [True, False])
def test_npy_files_and_memory_maps(tmp_path, monkeypatch, fits):
    """Read in place as arrays where they fit in memory, by row blocks where they do not
    (Fortran-ordered files always in place: their rows are strided on disk)."""
    from fastlae._inputs import describe

    if not fits:
        monkeypatch.setattr("fastlae._stream.IN_PLACE_MEMORY", 0.0)
    X = datasets.decaying(3000, 30, random_state=4) + 7.0
    ref = fastlae.pca(X, K)
    path = tmp_path / "x.npy"
    np.save(path, X)
    fortran = tmp_path / "f.npy"
    np.save(fortran, np.asfortranarray(X))
    for source in (str(path), path, np.load(path, mmap_mode="r"), str(fortran),
                   np.memmap(tmp_path / "raw.bin", dtype=np.float64, mode="w+", shape=X.shape)):
        if isinstance(source, np.memmap) and str(source.filename).endswith("raw.bin"):
            source[:] = X
            source.flush()
        expected = "array" if fits or (isinstance(source, str) and source == str(fortran)) \
            else "rows"
        assert describe(source).kind == expected
        r = fastlae.pca(source, K)
        np.testing.assert_allclose(r.explained_variance, ref.explained_variance, rtol=1e-12)
        assert sin_angle(ref.components.T, r.components) < 1e-10
        if expected == "rows":
            assert r.certificate == "data" and r.precision == "double"
        else:   # the array in memory's plan
            assert r.precision == ref.precision and r.certificate == ref.certificate
    with pytest.raises(TypeError, match=r"a path \('.*x.csv'\) to a file fastlae.pca does not"):
        fastlae.pca(str(tmp_path / "x.csv"), K)
    with pytest.raises(ValueError, match="cannot read"):
        fastlae.pca(str(tmp_path / "missing.npy"), K)
    (tmp_path / "short.npy").write_bytes(path.read_bytes()[:5000])
    with pytest.raises(ValueError, match="shorter than its header says"):
        fastlae.pca(str(tmp_path / "short.npy"), K)


def test_what_is_read_in_place(tmp_path, monkeypatch):
    """Float files and maps within IN_PLACE_MEMORY of the memory (and GRAM_FEATURES_MAX
    features) are arrays; other dtypes (a whole-file conversion), larger files and a machine
    whose memory cannot be read go by row blocks; wide files with few samples are read in
    place whatever their size."""
    import fastlae._stream as stream
    from fastlae._inputs import describe

    X = datasets.decaying(400, 20, random_state=5)
    kinds = {}
    for name, data in (("f64", X), ("f32", X.astype(np.float32)),
                       ("i16", (X * 100).astype(np.int16)), ("big_endian", X.astype(">f8"))):
        np.save(tmp_path / f"{name}.npy", data)
        kinds[name] = (describe(str(tmp_path / f"{name}.npy")).kind,
                       describe(np.load(tmp_path / f"{name}.npy", mmap_mode="r")).kind)
    assert kinds == {"f64": ("array", "array"), "f32": ("array", "array"),
                     "i16": ("rows", "rows"), "big_endian": ("rows", "rows")}
    size = X.nbytes
    monkeypatch.setattr(stream, "physical_memory", lambda: 4 * size)   # exactly a quarter
    assert stream.in_place(X.shape, np.float64) and not stream.in_place((401, 20), np.float64)
    monkeypatch.setattr(stream, "GRAM_FEATURES_MAX", 19)   # too many features for a Gram
    assert not stream.in_place(X.shape, np.float64)
    monkeypatch.setattr(stream, "GRAM_FEATURES_MAX", 16384)
    monkeypatch.setattr(stream, "physical_memory", lambda: 0)   # unknown: by row blocks
    assert not stream.in_place(X.shape, np.float32)
    assert stream.in_place((50, 400), np.int16)   # wide, few samples: the sample Gram
    r = fastlae.pca(str(tmp_path / "i16.npy"), K)   # by row blocks, converted block by block
    ref = fastlae.pca((X * 100).astype(np.int16).astype(np.float64), K)
    np.testing.assert_allclose(r.explained_variance, ref.explained_variance, rtol=1e-12)


def test_physical_memory_is_known_here(tmp_path, monkeypatch):
    """The machine's memory, or a control group's smaller limit (v2 or v1; "max" and v1's
    near-2^63 "no limit" leave the machine's)."""
    import fastlae._stream as stream

    if not hasattr(os, "sysconf"):
        pytest.skip("no sysconf on this platform")
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    v2, v1 = tmp_path / "memory.max", tmp_path / "memory.limit_in_bytes"
    monkeypatch.setattr(stream, "CGROUP_LIMITS", (str(v2), str(v1)))
    assert stream.physical_memory() == total > 1 << 28   # neither file
    v2.write_text("max\n")
    v1.write_text(f"{2 ** 63 - 4096}\n")
    assert stream.physical_memory() == total
    v1.write_text(f"{1 << 30}\n")
    assert stream.physical_memory() == min(total, 1 << 30)
    v2.write_text(f"{1 << 29}\n")
    assert stream.physical_memory() == min(total, 1 << 29)


def test_read_ahead_keeps_order_errors_and_early_exits():
    """Items come in order, each intact until the caller asks for the second one after it
    (three buffers in turn); the producer's error is raised in its place; leaving early
    closes the producer's generator; a stop flag cancels a wait."""
    import threading

    import fastlae._stream as stream
    from fastlae._threads import Cancelled

    stop = np.zeros(1, dtype=np.int64)
    bufs = [np.empty(3) for _ in range(stream.AHEAD_BUFFERS)]
    closed = []

    def numbers(count, fail_at=None):
        try:
            for i in range(count):
                if i == fail_at:
                    raise OSError("disk gone")
                buf = bufs[i % len(bufs)]
                buf[:] = i
                yield buf
        finally:
            closed.append(threading.current_thread().name)

    seen = []
    for i, item in enumerate(stream.read_ahead(numbers(50), stop)):
        time.sleep(0.002)   # the producer fills the next buffers meanwhile, not this one
        assert (item == i).all()
        seen.append(int(item[0]))
    assert seen == list(range(50)) and closed == ["fastlae-read"]

    got = []
    with pytest.raises(OSError, match="disk gone"):
        for item in stream.read_ahead(numbers(10, fail_at=4), stop):
            got.append(int(item[0]))
    assert got == [0, 1, 2, 3]

    closed.clear()
    for item in stream.read_ahead(numbers(1000), stop):
        break
    assert closed == ["fastlae-read"]   # joined before the loop's end returned

    def slow():
        yield np.zeros(1)
        time.sleep(0.5)
        yield np.ones(1)

    blocks = stream.read_ahead(slow(), stop)
    next(blocks)
    threading.Timer(0.05, lambda: stop.__setitem__(0, 1)).start()
    with pytest.raises(Cancelled):
        next(blocks)


def test_file_passes_read_ahead(tmp_path, by_rows):
    """A .npy file and a memory map by row blocks of many buffers' turns give the answer of
    the array in memory, Gram pass and certificate pass alike."""
    import fastlae._stream as stream

    X = datasets.decaying(2000, 40, random_state=6) + 5.0
    path = tmp_path / "x.npy"
    np.save(path, X)
    ref = fastlae.pca(X, K)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(stream, "FILE_BLOCK_ELEMENTS", 40 * 70)   # 29 blocks of 70 rows
        for source in (str(path), np.load(path, mmap_mode="r")):
            r = fastlae.pca(source, K)
            assert r.certificate == "data" and r.converged
            np.testing.assert_allclose(r.explained_variance, ref.explained_variance, rtol=1e-12)
            assert sin_angle(ref.components.T, r.components) < 1e-10


@pytest.mark.parametrize("name", sorted(datasets.ZOO))
def test_files_by_rows_across_the_zoo(tmp_path, by_rows, name):
    """Every zoo spectrum from a .npy file by row blocks (read ahead through many buffers'
    turns): its Gram pass and certificate pass, and a memory map of it too wide for a formed
    Gram, solved by passes; both agree with LAPACK on the array and are certified."""
    import fastlae._stream as stream

    X = np.asarray(datasets.zoo(name, 1200, 80, K, random_state=7), dtype=np.float64)
    path = tmp_path / "x.npy"
    np.save(path, X)
    w = np.linalg.eigvalsh(np.cov(X.T))[::-1]
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        mp.setattr(stream, "FILE_BLOCK_ELEMENTS", 80 * 50)   # 24 blocks of 50 rows
        gram = fastlae.pca(str(path), K)
        mp.setattr(stream, "GRAM_FEATURES_MAX", 60)
        passes = fastlae.pca(np.load(path, mmap_mode="r"), K)
    assert not any(issubclass(x.category, fastlae.ConvergenceWarning) for x in seen)
    assert not gram.matrix_free and gram.certificate == "data"
    assert passes.matrix_free and passes.solver == "krylov" and passes.certificate == "data"
    assert passes.residuals.max() <= 1e-10
    if name != "rank_below_k":   # there the trailing components are an arbitrary completion
        _agrees(gram, X, sine=_separated(X))
        _agrees(passes, X, sine=_separated(X) and w[K - 1] - w[K] > krylov.GAP_MIN * w[0])


def test_gram_sum_merges_exactly():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((1000, 12)) * 1e-3 + 1e4
    parts = [GramSum(12) for _ in range(3)]
    for part, rows in zip(parts, np.array_split(X, 3)):
        for block in np.array_split(rows, 4):
            part.add(block)
    total = parts[0].merge(parts[1]).merge(parts[2])
    Xc = X - X.mean(axis=0)
    C = total.gram() * total.scale ** 2
    assert total.n == 1000
    np.testing.assert_allclose(total.mean, X.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(C, Xc.T @ Xc, rtol=0, atol=1e-12 * np.abs(Xc.T @ Xc).max())


def test_partial_fit_is_exact():
    pytest.importorskip("sklearn")
    from fastlae import PCA

    X = datasets.zoo("cluster_at_k", 900, 30, K, random_state=1) + 3.0
    for n_components in (K, 0.8, None):
        inc = PCA(n_components)
        for block in _blocks(X, high=200, low=40):
            inc.partial_fit(block)
        full = PCA(n_components).fit(X)
        assert inc.n_components_ == full.n_components_ and inc.n_samples_ == 900
        np.testing.assert_allclose(inc.explained_variance_, full.explained_variance_,
                                   rtol=1e-10)
        np.testing.assert_allclose(inc.mean_, full.mean_, rtol=0, atol=1e-14 * np.abs(X).max())
        assert inc.noise_variance_ == pytest.approx(full.noise_variance_, rel=1e-10)
    Z = PCA(3).partial_fit(X[:100]).partial_fit(X[100:]).transform(X)
    np.testing.assert_allclose(np.abs(Z), np.abs(PCA(3).fit(X).transform(X)), atol=1e-8)
    fitted = PCA(3).fit(X[:50])
    fitted.partial_fit(X[50:60])   # fit discards the sums: partial_fit starts afresh
    assert fitted.n_samples_ == 10
    with pytest.raises(ValueError, match="X has 29 features"):
        PCA(3).partial_fit(X[:100]).partial_fit(X[100:, :29])


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "csr_array", "lil"])
def test_sparse_is_centered_implicitly(fmt):
    rng = np.random.default_rng(8)
    X = sp.random(3000, 80, density=0.02, format="csr", random_state=8,
                  data_rvs=lambda m: rng.poisson(2.0, m) + 1.0)
    S = sp.csr_array(X) if fmt == "csr_array" else X.asformat(fmt)
    r = fastlae.pca(S, K)
    assert r.certificate == "data"
    _agrees(r, X.toarray(), sine=_separated(X.toarray()))


@pytest.mark.parametrize("shape, path", [((900, 60), "formed"), ((900, 60), "passes"),
                                         ((60, 900), "wide")])
def test_sparse_duplicate_entries_count_as_their_sum(shape, path, monkeypatch):
    """A CSR matrix that stores an entry twice means their sum (SciPy's products add them):
    the statistics, the Gram and the total variance must see the sum too, and the caller's
    matrix stays as it was."""
    if path == "passes":
        monkeypatch.setattr("fastlae._stream.GRAM_FEATURES_MAX", 40)
    rng = np.random.default_rng(5)
    X = sp.random(*shape, density=0.1, format="csr", random_state=5,
                  data_rvs=lambda m: rng.poisson(2.0, m) + 1.0)
    # every third stored entry split in two stored entries of the same row and column
    rows = np.repeat(np.arange(shape[0]), np.diff(X.indptr))
    split = np.arange(X.nnz) % 3 == 0
    data = np.concatenate([np.where(split, 0.25, 1.0) * X.data, 0.75 * X.data[split]])
    cols = np.concatenate([X.indices, X.indices[split]])
    order = np.argsort(np.concatenate([rows, rows[split]]), kind="stable")
    ptr = np.concatenate([[0], np.cumsum(np.bincount(np.concatenate([rows, rows[split]]),
                                                     minlength=shape[0]))])
    D = sp.csr_matrix((data[order], cols[order], ptr), shape=shape)
    assert not D.has_canonical_format and np.allclose(D.toarray(), X.toarray())
    kept = D.data.copy(), D.indices.copy(), D.indptr.copy()
    r = fastlae.pca(D, K)
    dense = X.toarray()
    assert r.total_variance == pytest.approx(np.var(dense, axis=0, ddof=1).sum(), rel=1e-12)
    _agrees(r, dense, sine=_separated(dense) if shape[0] > shape[1] else False)
    assert all(np.array_equal(a, b) for a, b in zip(kept, (D.data, D.indices, D.indptr)))


def test_sparse_dtypes_and_errors():
    X = sp.random(500, 30, density=0.05, format="csr", random_state=1)
    r32 = fastlae.pca(X.astype(np.float32), 3)
    assert r32.components.dtype == np.float32
    np.testing.assert_allclose(r32.explained_variance, fastlae.pca(X, 3).explained_variance,
                               rtol=1e-6)
    ints = (X * 10).astype(np.int64)
    np.testing.assert_allclose(fastlae.pca(ints, 3).explained_variance,
                               fastlae.pca(ints.toarray(), 3).explained_variance, rtol=1e-12)
    bad = X.copy()
    bad.data[3] = np.nan
    with pytest.raises(ValueError, match="contains NaN"):
        fastlae.pca(bad, 3)
    with pytest.raises(TypeError, match="dtype complex128"):
        fastlae.pca(X.astype(np.complex128), 3)
    with pytest.raises(ValueError, match=r"k=31 is out of range"):
        fastlae.pca(X, 31)


def test_sparse_estimator():
    pytest.importorskip("sklearn")
    from fastlae import PCA

    X = sp.random(400, 25, density=0.1, format="csr", random_state=2) * 5
    est, dense = PCA(4).fit(X), PCA(4).fit(X.toarray())
    np.testing.assert_allclose(est.explained_variance_, dense.explained_variance_, rtol=1e-10)
    np.testing.assert_allclose(np.abs(est.transform(X)), np.abs(dense.transform(X.toarray())),
                               atol=1e-10)


def test_dask_arrays_local_scheduler():
    da = pytest.importorskip("dask.array")
    X = datasets.decaying(6000, 40, random_state=6) + 100.0
    ref = fastlae.pca(X, K)
    for chunks in ((1000, 40), (777, 13), (6000, 40)):
        r = fastlae.pca(da.from_array(X, chunks=chunks), K)
        assert r.certificate == "data"
        np.testing.assert_allclose(r.explained_variance, ref.explained_variance, rtol=1e-12)
        assert sin_angle(ref.components.T, r.components) < 1e-10
    bad = X.copy()
    bad[4321, 7] = np.inf
    with pytest.raises(ValueError, match="block 4 of the stream contains infinity"):
        fastlae.pca(da.from_array(bad, chunks=(1000, 40)), K)


@pytest.mark.slow
def test_dask_local_cluster_with_two_worker_processes():
    distributed = pytest.importorskip("dask.distributed")
    da = pytest.importorskip("dask.array")
    X = datasets.decaying(20000, 50, random_state=9) + 3.0
    ref = fastlae.pca(X, K)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        D = da.from_array(X, chunks=(2500, 50)).persist()   # the chunks live on the workers
        r = fastlae.pca(D, K)
        assert len(client.scheduler_info()["workers"]) == 2
    np.testing.assert_allclose(r.explained_variance, ref.explained_variance, rtol=1e-12)
    assert sin_angle(ref.components.T, r.components) < 1e-10 and r.converged


@pytest.mark.slow
def test_a_stream_runs_in_one_block_of_memory(tmp_path):
    """A 400 MB stream of 4 MB blocks, d=500: the resident peak grows by far less than the
    stream (the Gram is 2 MB)."""
    code = """
import resource, numpy as np, fastlae
rng = np.random.default_rng(0)
fastlae.pca(rng.standard_normal((2000, 500)), 3)   # kernels loaded, BLAS threads up
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
def blocks():
    for i in range(100):   # 100 x 1000 x 500 float64 = 400 MB
        yield rng.standard_normal((1000, 500))
r = fastlae.pca(blocks(), 3)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(r.converged, (peak - base) / 1024)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    converged, growth_mb = out.stdout.split()
    assert converged == "True" and float(growth_mb) < 60


@pytest.fixture
def narrow_gram(monkeypatch):
    """Treat more than 60 features as too wide for a formed Gram (the 16384 of real use)."""
    monkeypatch.setattr("fastlae._stream.GRAM_FEATURES_MAX", 60)


def test_wide_sources_are_solved_by_passes(narrow_gram, by_rows, tmp_path):
    X = datasets.decaying(2500, 150, random_state=11) + 2.0
    assert not fastlae.pca(X, K).matrix_free   # in memory: the limit applies to sources only
    path = tmp_path / "w.npy"
    np.save(path, X)
    for source in (lambda: _blocks(X, seed=2, high=600), str(path), np.load(path, mmap_mode="r"),
                   sp.csr_matrix(X)):
        r = fastlae.pca(source, K)
        assert r.matrix_free and r.solver == "krylov" and r.certificate == "data"
        assert r.n_iter > 1 and r.converged
        _agrees(r, X)
    with pytest.raises(ValueError, match="can be read only once: pass a callable"):
        fastlae.pca(_blocks(X), K)


def test_wide_dask_by_passes(narrow_gram):
    da = pytest.importorskip("dask.array")
    X = datasets.decaying(2000, 120, random_state=12) - 4.0
    r = fastlae.pca(da.from_array(X, chunks=(500, 120)), K)
    assert r.matrix_free and r.certificate == "data"
    _agrees(r, X)


def test_by_passes_reports_what_it_could_not_reach(narrow_gram):
    X = datasets.zoo("gaussian", 800, 100, K, random_state=1)
    with pytest.warns(fastlae.ConvergenceWarning, match="max_iter=3"):
        r = fastlae.pca(sp.csr_matrix(X), K, max_iter=3)
    assert r.n_iter == 3 and not r.converged


def test_copy_on_write_maps_keep_their_changes(tmp_path):
    X = datasets.decaying(5000, 20, random_state=13)
    np.save(tmp_path / "x.npy", X)
    m = np.load(tmp_path / "x.npy", mmap_mode="c")
    m[0] = 100.0   # a private change: reading the map must not drop it
    Y = X.copy()
    Y[0] = 100.0
    r = fastlae.pca(m, 3)
    assert np.all(m[0] == 100.0)
    np.testing.assert_allclose(r.explained_variance, fastlae.pca(Y, 3).explained_variance,
                               rtol=1e-12)


def test_sparse_refuses_means_it_cannot_center():
    X = np.asarray(datasets.zoo("large_mean", 500, 20, K, random_state=2), dtype=float)
    with pytest.raises(ValueError, match=r"column \d+ of the sparse X has a mean .* about 1\d "
                                         r"digits.*X.toarray\(\)"):
        fastlae.pca(sp.csr_matrix(X), K)
    fastlae.pca(sp.csr_matrix(X - 1e6), K)   # shifted, it centers fine


@pytest.mark.parametrize("name", sorted(datasets.ZOO))
def test_sparse_matches_dense_across_the_zoo(name):
    X = np.asarray(datasets.zoo(name, 1200, 30, K, random_state=4), dtype=np.float64)
    if name == "large_mean":
        X = X - np.round(X.mean(axis=0))   # see test_sparse_refuses_means_it_cannot_center
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastlae.RankWarning)
        r = fastlae.pca(sp.csr_matrix(X), K)
    if name != "rank_below_k":
        _agrees(r, X, sine=_separated(X))


def test_dask_unknown_chunks():
    da = pytest.importorskip("dask.array")
    X = da.from_array(np.arange(60.0).reshape(20, 3), chunks=(5, 3))
    Y = X[X[:, 0] > 10]   # unknown row counts
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        fastlae.pca(Y, 1)
    Y.compute_chunk_sizes()
    assert fastlae.pca(Y, 1).converged


@pytest.mark.parametrize("name", sorted(datasets.ZOO))
def test_by_passes_across_the_zoo(narrow_gram, name):
    X = np.asarray(datasets.zoo(name, 1200, 100, K, random_state=5), dtype=np.float64)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        r = fastlae.pca(lambda: _blocks(X, seed=3, high=500), K)
    assert r.matrix_free and r.certificate == "data"
    # certified everywhere, a flat cluster across k included (block Krylov)
    assert r.converged and r.residuals.max() <= 1e-10
    assert not any(issubclass(w.category, fastlae.ConvergenceWarning) for w in seen)
    w = np.linalg.eigvalsh(np.cov(X.T))[::-1]   # subspace where the gap resolves it (krylov)
    if name != "rank_below_k":
        _agrees(r, X, sine=_separated(X) and w[K - 1] - w[K] > krylov.GAP_MIN * w[0])
