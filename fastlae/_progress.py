"""A progress line on stderr, drawn only where a person watches (an interactive terminal), and
the :class:`Activity` it shows."""
import sys
import time

import numpy as np


class Progress:
    """``Progress(label)(done, total, what)`` redraws one line on stderr; ``close()`` ends it.

    Silent when stderr is not a terminal or when ``enabled`` is False, so that scripts, pipes
    and logs get no control characters.
    """

    def __init__(self, label, enabled=None, stream=None):
        self.stream = sys.stderr if stream is None else stream
        if enabled is None:
            enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = enabled
        self.label = label
        self.t0 = time.perf_counter()
        self._width = 0

    def __call__(self, done, total, what=""):
        """Redraw: a bar with ``done`` of ``total`` (and the time left) when ``total > 0``,
        else ``what`` alone."""
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.t0
        if total > 0:
            frac = min(done / total, 1.0)
            bar = "#" * int(20 * frac)
            left = f", {elapsed / frac - elapsed:.0f} s left" if 0 < frac < 1 else ""
            text = f"{self.label} [{bar:<20}] {done}/{total} {what} ({elapsed:.0f} s{left})"
        else:
            text = f"{self.label} {what} ({elapsed:.0f} s)"
        pad = max(0, self._width - len(text))
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._width = len(text)

    def close(self):
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()


class Activity:
    """What a call is doing, updated by its passes and solvers and read by a progress line
    from another thread (:class:`Progress`).

    Attributes
    ----------
    what : str
        The phase (``"Gram pass"``, a solver's name, ...).
    done, total : int
        Steps of the phase done and expected (blocks of a pass, rows of a stream); total 0
        where not known.
    hist : ndarray or None
        A solver's history (:func:`fastlae._kernels.monitor.new_history`), where a solver runs.
    """

    def __init__(self, what="starting"):
        self.start(what)

    def start(self, what, total=0):
        """Begin a phase of ``total`` steps."""
        self.what, self.done, self.total, self.hist = what, 0, total, None

    def advance(self, steps=1):
        """Count ``steps`` more (from any thread: an undercount is harmless)."""
        self.done += steps

    def history(self, solver):
        """Begin ``solver``'s phase: a fresh history buffer that its kernels fill."""
        from ._kernels.monitor import new_history

        self.start(solver)
        self.hist = new_history()
        return self.hist

    def state(self):
        """``(done, total, text)`` for :class:`Progress`."""
        hist = self.hist
        if hist is not None:
            count = int(hist[0, 0])
            if count:
                it, logres = hist[count]
                return 0, 0, f"{self.what}: {int(it)} updates, residual {np.exp(logres):.1e}"
            return 0, 0, f"{self.what}: starting"
        return self.done, self.total, self.what
