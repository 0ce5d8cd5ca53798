"""Start-up: import plus a first call in a fresh process, with a warm and a cold JIT cache."""
import os
import subprocess
import sys
import tempfile
import time

FIRST_CALL = ("import numpy as np, fastlae\n"
              "X = fastlae.datasets.decaying(20000, 200, random_state=0)\n"
              "fastlae.pca(X, 10)\n")


def _run(env=None):
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", FIRST_CALL], check=True, env=env,
                   capture_output=True)
    return time.perf_counter() - t0


class Startup:
    timeout = 600
    number = 1
    repeat = (1, 5, 60.0)

    def setup(self):
        _run()   # fills the package's JIT cache, so that the timed runs find it warm

    def time_import_and_first_call(self):
        _run()

    def track_cold_compile_seconds(self):
        """A first call in a fresh ``NUMBA_CACHE_DIR``: what a new environment waits."""
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, NUMBA_CACHE_DIR=cache)
            return _run(env)

    track_cold_compile_seconds.unit = "seconds"
