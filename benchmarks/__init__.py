"""The speed benchmark's sections, run by `python benchmarks/run.py` (see its docstring)."""
