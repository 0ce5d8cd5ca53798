"""What every calibration script shares: interleaved timing rounds and the LAPACK reference.

The machines are shared and noisy, so each script times its methods in rounds, every method
once per round, in an order that rotates every round (no method is always timed right after
the same peer, whose large temporaries or spinning BLAS threads could slow the next), with a
pause before each call (NumPy and SciPy each bundle an OpenBLAS whose idle workers spin for a
while after a call). Compare medians within one run, as ratios.
"""
import time
import warnings

import numpy as np

PAUSE = 0.3


def interleaved(methods, reps, pause=PAUSE):
    """Time each of ``methods`` (name -> callable of no argument) ``reps`` times.

    Returns
    -------
    times : dict
        name -> list of seconds.
    last : dict
        name -> what the method returned on its last call.
    """
    order = list(methods.items())
    times = {name: [] for name in methods}
    last = {}
    for rep in range(reps):
        shift = rep % len(order)
        for name, f in order[shift:] + order[:shift]:
            time.sleep(pause)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                last[name] = f()
                times[name].append(time.perf_counter() - t0)
    return times, last


def median(times):
    """name -> median seconds."""
    return {name: float(np.median(ts)) for name, ts in times.items()}


def machine():
    """One line naming the CPU count, BLAS and library versions."""
    import os

    import scipy
    from threadpoolctl import threadpool_info

    import fastlae

    blas = sorted({(i["internal_api"], i["num_threads"]) for i in threadpool_info()
                   if i["user_api"] == "blas"})
    return (f"{os.cpu_count()} CPUs; fastlae {fastlae.__version__}, numpy {np.__version__}, "
            f"scipy {scipy.__version__}; BLAS {blas}")


def lapack_reference(X, k):
    """The top-k principal directions (d x k, columns) by LAPACK ``eigh`` of the exact centered
    Gram in float64: of ``Xc.T @ Xc`` for tall data, else of ``Xc @ Xc.T`` mapped back."""
    from scipy.linalg import eigh

    Xf = np.asarray(X, dtype=np.float64)
    Xc = Xf - Xf.mean(axis=0)
    if X.shape[0] >= X.shape[1]:
        C = Xc.T @ Xc
        _, V = eigh(C, subset_by_index=[C.shape[0] - k, C.shape[0] - 1])
        return V
    G = Xc @ Xc.T
    _, U = eigh(G, subset_by_index=[G.shape[0] - k, G.shape[0] - 1])
    V = Xc.T @ U
    return V / np.linalg.norm(V, axis=0)


def sine(V, components):
    """Sine of the largest principal angle between span(V) and the rows of ``components``."""
    Q = np.asarray(components, dtype=np.float64).T
    return float(np.linalg.norm(V - Q @ (Q.T @ V), 2))
