"""A progress line on stderr, drawn only where a person watches (an interactive terminal)."""
import sys
import time


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
