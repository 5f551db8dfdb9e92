"""Indicators computed once, read everywhere (issue 11, section 4).

A job (``jagajalan analytics run``, ``jagajalan analytics backfill``) reads readings through
the store's read interface, computes ISPU, traffic and flood status with :mod:`analytics`'
arithmetic (:mod:`indicators.compute`, pure) and writes them back through the store's write
interface as ``jagajalan_*`` measurements (docs/protocol.md). It never imports ingest.
"""
