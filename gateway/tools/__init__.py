"""The field technician's tools: ``gateway doctor`` and ``gateway scan``."""
