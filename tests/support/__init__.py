"""Helpers shared by the test modules: paths of the checkout, child processes, skip marks, file builders.

Importable as ``support`` because pyproject's pytest settings put ``tests/`` on
the import path; fixtures stay in ``tests/conftest.py``.
"""
