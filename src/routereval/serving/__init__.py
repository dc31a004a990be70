"""Serving a saved router: an OpenAI-compatible proxy that routes each request to a real LLM endpoint.

The saved router itself (training it, its folder, :class:`~routereval.deploy.model.RoutingModel`
and ``route``) is :mod:`routereval.deploy`; the proxy loads one from there.

* :mod:`~routereval.serving.backends`: the backends file (TOML).
* :mod:`~routereval.serving.failover`: which failures retry, fall back or fail.
* :mod:`~routereval.serving.app`: the proxy's app factory.

Nothing here is imported by the rest of the package: serving reads a saved
router and sits at the end of the data flow.
"""
