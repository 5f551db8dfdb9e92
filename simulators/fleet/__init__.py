"""The fleet load generator: ``generator`` (what each gateway sends, exactly counted) and
``mqtt`` (every connection on one asyncio loop)."""
