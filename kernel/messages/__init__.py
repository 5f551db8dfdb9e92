"""The text catalogue's tables, one per tool (see :mod:`kernel.text`)."""
