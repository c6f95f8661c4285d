"""Benchmarks of labstack, each side by side with moto_server started in the same run.

Run with ``python -m bench`` (or ``make bench``) from the repository root.
"""
