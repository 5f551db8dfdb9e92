"""Alert rules: the file (config.py) and their evaluation (engine.py), both pure."""
