"""Data sources: where performance records come from and how they become a :class:`Benchmark`.

A regular package rather than an implicit namespace one so that documentation
tools (griffe, behind ``mkdocs build``) find its modules; it imports nothing.
"""
