"""Benchmarks: `make bench` runs every module listed in bench/__main__.py.

Each benchmark prints one figure a line: ``name value unit``.
"""
