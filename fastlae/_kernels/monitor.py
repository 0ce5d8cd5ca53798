"""The stop test every LAE solver kernel shares: target reached, certified, or not worth going on.

A solver checks its iterate every few updates (:func:`fastlae._kernels.ritz.check`) and hands
the largest relative residual ``res`` to :func:`verdict`, which keeps a short history of them in
``hist`` and predicts, from the rate observed over the last third of the run, how many more
updates reaching ``target`` would take. That prediction lets ``"auto"`` abandon an iteration
that would cost more than finishing another way (a flat spectrum, where subspace iteration
crawls) and
lets every solver stop once ``tol`` is met and the stricter ``target`` is out of reach (a
residual at the rounding floor, or a gap too small to resolve).
"""
import numpy as np
import numba as nb

from ._config import JIT

# Verdicts
GO_ON = 0
DONE = 1        # res <= target (and the weights are stationary when asked)
CERTIFIED = 2   # res <= tol, the target is out of reach: stop with a certified answer
GAVE_UP = 3     # the target is predicted out of reach within max_iter: the caller switches
LIMIT = 4       # max_iter updates done

# A prediction needs this many updates and recorded checks, and looks back over at least
# MIN_SPAN updates (a third of the run when that is more): the first updates of a random start
# and the onset of momentum are not yet the asymptotic rate.
MIN_UPDATES = 6
MIN_SPAN = 3
# Beyond tol, a solver that cannot give up (a named one) goes on towards the target only while
# that is predicted to take at most this fraction of the updates done so far (at least
# EXTRA_MIN): the refinement adds at most half to a run.
EXTRA = 0.5
EXTRA_MIN = 10
# A solver that can give up does so when the target is predicted to need more than GIVE_UP
# times its budget (the prediction is rough early on; a near miss runs to the budget), or at
# the budget with an uncertified residual.
GIVE_UP = 1.5


# Checks kept in the history (the oldest is dropped): enough to look back a third of any run
# at the solvers' check intervals, or failing that as far as the history reaches.
HISTORY = 64


def new_history():
    """History buffer for :func:`verdict`: ``(iteration, log residual)`` rows, row 0 the count."""
    return np.zeros((HISTORY + 1, 2))


@nb.njit(**JIT)
def predicted_updates(hist, it, res, target):
    """Updates still needed to bring ``res`` down to ``target`` at the rate seen so far.

    ``res`` and the history are running minima (see :func:`verdict`). ``inf`` when the
    residual is not falling; ``-1.0`` when there is too little history yet.
    """
    count = int(hist[0, 0])
    if it < MIN_UPDATES or count < 3 or res <= 0.0:
        return -1.0
    span = max(MIN_SPAN, it // 3)
    ref = -1
    for j in range(count, 0, -1):   # the latest check at least `span` updates back
        if hist[j, 0] <= it - span:
            ref = j
            break
    if ref < 0:   # the history does not reach that far: its oldest check, if far enough
        if hist[1, 0] > it - MIN_SPAN:
            return -1.0
        ref = 1
    slope = (np.log(res) - hist[ref, 1]) / (it - hist[ref, 0])
    if slope >= -1e-6:
        return np.inf
    return max(0.0, (np.log(max(target, 1e-300)) - np.log(res)) / slope)


@nb.njit(**JIT)
def verdict(hist, it, res, target, tol, upd, wtol, max_iter, patience):
    """Record check ``res`` at update ``it`` and decide whether to stop.

    Parameters
    ----------
    hist : ndarray of shape (HISTORY + 1, 2), float64
        From :func:`new_history`; rows are appended (the oldest dropped when full).
    it : int
        Updates done.
    res, target, tol : float
        The last check, the residual to aim for, and the one that certifies (``target <= tol``).
    upd, wtol : float
        The last relative weight update and its bound (``wtol = 0`` disables that test).
    max_iter : int
        The update budget.
    patience : float
        Positive when the caller has another way to finish: what that costs, in updates.
        Then ``GAVE_UP`` is returned as soon as the target is predicted to need more updates
        than ``patience`` or in all more than ``GIVE_UP * max_iter``, and at ``max_iter``
        with ``res > tol``. Zero: stop with ``CERTIFIED`` once ``res <= tol`` and the target is
        out of reach, else run to ``max_iter``.

    Returns
    -------
    int
        One of ``GO_ON``, ``DONE``, ``CERTIFIED``, ``GAVE_UP``, ``LIMIT``.
    """
    count = int(hist[0, 0])
    if count == hist.shape[0] - 1:   # full: drop the oldest row
        for j in range(1, count):
            hist[j, 0] = hist[j + 1, 0]
            hist[j, 1] = hist[j + 1, 1]
        count -= 1
    # the running minimum: an iteration that oscillates at its rounding floor (or a momentum
    # step that overshoots) must not look like progress
    logres = np.log(max(res, 1e-300))
    if count > 0:
        logres = min(logres, hist[count, 1])
    count += 1
    hist[count, 0] = it
    hist[count, 1] = logres
    hist[0, 0] = count
    still = upd > wtol
    if res <= target and not still:
        return DONE
    give_up = patience > 0.0
    if it >= max_iter:
        return GAVE_UP if give_up and res > tol else LIMIT
    more = predicted_updates(hist, it, np.exp(logres), target)
    if more < 0.0:
        return GO_ON
    if give_up and (more > patience or it + more > GIVE_UP * max_iter):
        return GAVE_UP
    if not give_up and res <= tol and not still and (it + more > max_iter
                                                     or more > max(EXTRA * it, EXTRA_MIN)):
        return CERTIFIED
    return GO_ON


@nb.njit(**JIT)
def relative_update(new, old):
    """``||new - old|| / ||old||`` (Frobenius), the stationarity measure of the weights."""
    num = 0.0
    den = 0.0
    for i in range(old.shape[0]):   # element loops: cheaper to compile than the expressions
        for j in range(old.shape[1]):
            e = new[i, j] - old[i, j]
            num += e * e
            den += old[i, j] * old[i, j]
    return np.sqrt(num / max(den, 1e-300))
