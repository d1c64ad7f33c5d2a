"""Benchmarks: run on purpose with ``make bench``, never as part of ``make test``."""
