"""routereval: the benchmark and toolkit for routing LLMs.

Data flows one way: sources -> records -> router datasets -> routers -> metrics
-> reports. Importing this package is cheap; heavy libraries load where used.
"""

__version__ = "0.1.0"
