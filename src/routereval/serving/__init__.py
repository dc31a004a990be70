"""Serving a fitted router: a saved artifact, routing decisions and an OpenAI-compatible proxy.

* :mod:`~routereval.serving.model`: :class:`RoutingModel`, a fitted encoder +
  router + prices saved as a folder of data (JSON + ``.npz``), loaded without
  running code from it, and ``route`` for new prompts.
* :mod:`~routereval.serving.backends`: the backends file (TOML).
* :mod:`~routereval.serving.failover`: which failures retry, fall back or fail.
* :mod:`~routereval.serving.app`: the proxy's app factory.

Nothing here is imported by the rest of the package: serving reads a saved
router and sits at the end of the data flow.
"""
