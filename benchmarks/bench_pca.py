"""Time, peak memory and accuracy of fastlae against LAPACK and scikit-learn, by shape.

Each class is one matrix (see ``common.make``), built once in ``setup_cache`` together with
every method's accuracy against LAPACK; the parameter is the method. fastlae's kernels are
compiled (and loaded from the cache) in ``setup``, never inside a timed call.
"""
from . import common

METHODS = common.FLOOR + common.FASTLAE + common.SKLEARN + common.LAPACK
_WARM = set()   # methods whose kernels this process has loaded (setup runs once per sample)


def applicable(shape, methods=METHODS):
    """The methods sensible on ``shape``: the benchmarks' parameter list."""
    return [[m for m in methods if common.applies(m, shape)]]


class _Case:
    """Benchmarks shared by every shape; a subclass sets ``shape``, ``k``, ``kind`` and its
    own ``setup_cache`` (asv keys the cache by the function's line)."""

    kind, shape, k = "decaying", (0, 0), 0
    params = applicable((0, 0))
    param_names = ["method"]
    params = [METHODS]
    number = 1
    repeat = (1, 5, 30.0)
    warmup_time = 0.0   # setup warms what needs warming, once
    timeout = 600

    def setup(self, cache, method):
        if not common.applies(method, self.shape):
            raise NotImplementedError(f"{method} does not apply to {self.shape}")
        self.X = common.load(cache, method)
        if method not in _WARM and method.split("/")[0] in ("auto", "als_tied", "eigh", "gd",
                                                            "oja", "double", "mixed"):
            common.run(method, self.X, self.k)   # compiled kernels loaded before timing
            _WARM.add(method)

    def time_pca(self, cache, method):
        common.run(method, self.X, self.k)


class _Accuracy:
    """Accuracy against LAPACK, from the class's ``setup_cache`` (one run of each method
    there, :func:`common.accuracy`); a method that does not apply to the shape is skipped."""

    param_names = ["method"]
    params = [common.ACCURACY]
    timeout = 600

    def setup(self, cache, method):
        if method not in cache:
            raise NotImplementedError(f"{method} does not apply")

    def track_eigenvalue_error(self, cache, method):
        return cache[method]["eig"]

    def track_subspace_sine(self, cache, method):
        return cache[method]["sine"]

    def track_variance_deficit(self, cache, method):
        return cache[method]["deficit"]

    track_eigenvalue_error.unit = "relative"
    track_subspace_sine.unit = "sine"
    track_variance_deficit.unit = "relative"


class _Updates:
    """Updates (passes over X when matrix-free) of fastlae's iterative paths, from the
    accuracy class's cache."""

    param_names = ["method"]
    params = [["auto", "auto/float32"]]
    timeout = 600

    def setup(self, cache, method):
        if cache.get(method, {}).get("updates") is None:
            raise NotImplementedError(f"{method} does not apply")

    def track_updates(self, cache, method):
        return cache[method]["updates"]

    track_updates.unit = "updates"


class _Memory:
    """Peak memory of the process (the data included) for fastlae and the peers."""

    param_names = ["method"]
    params = [common.MEMORY]
    warmup_time = 0.0
    timeout = 600

    def setup(self, cache, method):
        _Case.setup(self, cache, method)

    def peakmem_pca(self, cache, method):
        common.run(method, self.X, self.k)


class Tall256(_Case):
    shape, k = (200000, 256), 10
    params = applicable((200000, 256))

    def setup_cache(self):
        return common.data(self.kind, *self.shape)


class Tall1000(_Case):
    shape, k = (100000, 1000), 20
    params = applicable((100000, 1000))

    def setup_cache(self):
        return common.data(self.kind, *self.shape)


class Mid(_Case):
    shape, k = (20000, 2000), 50
    params = applicable((20000, 2000))

    def setup_cache(self):
        return common.data(self.kind, *self.shape)


class Square(_Case):
    shape, k = (4000, 4000), 20
    params = applicable((4000, 4000))

    def setup_cache(self):
        return common.data(self.kind, *self.shape)


class Wide(_Case):
    shape, k = (1000, 100000), 10
    params = applicable((1000, 100000))

    def setup_cache(self):
        return common.data(self.kind, *self.shape)


class FlatK10(_Case):
    """A noise-like flat spectrum, where the autoencoder hands over to LAPACK."""

    kind, shape, k = "gaussian", (100000, 300), 10
    params = applicable((100000, 300))

    def setup_cache(self):
        return common.data(self.kind, *self.shape)


class FlatK50(_Case):
    kind, shape, k = "gaussian", (100000, 300), 50
    params = applicable((100000, 300))

    def setup_cache(self):
        return common.data(self.kind, *self.shape)


class LowRank(_Case):
    """Numerical rank 30 between k = 20 and the latent width 40; also the gradient solvers."""

    kind, shape, k = "low_rank", (5000, 300), 20
    params = applicable((5000, 300), METHODS + ["gd", "oja"])

    def setup_cache(self):
        return common.data(self.kind, *self.shape)


class Tall256Accuracy(_Accuracy):
    def setup_cache(self):
        return common.accuracy(Tall256.kind, *Tall256.shape, Tall256.k)


class Tall256Updates(_Updates):
    setup_cache = Tall256Accuracy.setup_cache


class Tall1000Accuracy(_Accuracy):
    def setup_cache(self):
        return common.accuracy(Tall1000.kind, *Tall1000.shape, Tall1000.k)


class Tall1000Updates(_Updates):
    setup_cache = Tall1000Accuracy.setup_cache


class Tall1000Memory(_Memory):
    setup_cache = Tall1000.setup_cache
    shape, k = Tall1000.shape, Tall1000.k


class MidAccuracy(_Accuracy):
    def setup_cache(self):
        return common.accuracy(Mid.kind, *Mid.shape, Mid.k)


class MidUpdates(_Updates):
    setup_cache = MidAccuracy.setup_cache


class SquareAccuracy(_Accuracy):
    def setup_cache(self):
        return common.accuracy(Square.kind, *Square.shape, Square.k)


class SquareUpdates(_Updates):
    setup_cache = SquareAccuracy.setup_cache


class SquareMemory(_Memory):
    setup_cache = Square.setup_cache
    shape, k = Square.shape, Square.k


class WideAccuracy(_Accuracy):
    def setup_cache(self):
        return common.accuracy(Wide.kind, *Wide.shape, Wide.k)


class WideUpdates(_Updates):
    setup_cache = WideAccuracy.setup_cache


class WideMemory(_Memory):
    setup_cache = Wide.setup_cache
    shape, k = Wide.shape, Wide.k


class FlatK10Accuracy(_Accuracy):
    def setup_cache(self):
        return common.accuracy(FlatK10.kind, *FlatK10.shape, FlatK10.k)


class FlatK10Updates(_Updates):
    setup_cache = FlatK10Accuracy.setup_cache


class FlatK50Accuracy(_Accuracy):
    def setup_cache(self):
        return common.accuracy(FlatK50.kind, *FlatK50.shape, FlatK50.k)


class FlatK50Updates(_Updates):
    setup_cache = FlatK50Accuracy.setup_cache


class LowRankAccuracy(_Accuracy):
    params = [common.ACCURACY + ["gd", "oja"]]

    def setup_cache(self):
        return common.accuracy(LowRank.kind, *LowRank.shape, LowRank.k,
                               common.ACCURACY + ["gd", "oja"])


class LowRankUpdates(_Updates):
    setup_cache = LowRankAccuracy.setup_cache
    params = [["auto", "auto/float32", "gd", "oja"]]
