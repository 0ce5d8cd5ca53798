"""Benchmarks in the default test run execute once, unmeasured (pytest-benchmark's
``--benchmark-disable``), unless ``--benchmark-only`` or ``--benchmark-enable`` asks for the
measurements."""
import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    if hasattr(config.option, "benchmark_disable") and not (
            config.option.benchmark_only or config.option.benchmark_enable):
        config.option.benchmark_disable = True
