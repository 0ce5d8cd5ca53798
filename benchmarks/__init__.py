"""fastlae's asv suite: speed, memory and accuracy against LAPACK and scikit-learn.

Run it in the environment already installed (see docs/benchmarks.md)::

    asv machine --yes
    asv run -E existing:$(which python) --set-commit-hash $(git rev-parse HEAD)
"""
