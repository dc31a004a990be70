"""A saved router: train it, write it as a folder of data, check and load that folder, route prompts with it.

* :mod:`~routereval.deploy.train`: fit an encoder and a router on a benchmark's
  records (``routereval train``);
* :mod:`~routereval.deploy.model`: :class:`RoutingModel`, the fitted encoder +
  router + prices, and ``route`` for new prompts (``routereval route``);
* :mod:`~routereval.deploy.artifact`: the folder itself (JSON + ``.npz``), written
  atomically and loaded without running code from it;
* :mod:`~routereval.deploy.manifest`: the manifest's schema, its checksum, and
  how it is read without trusting it;
* :mod:`~routereval.deploy.npz`: the folder's ``.npz`` files, read within what
  the manifest declares;
* :mod:`~routereval.deploy.state` and :mod:`~routereval.deploy.encoder_state`:
  a fitted router's and encoder's learned state as plain data and arrays.

Nothing here knows about the proxy: :mod:`routereval.serving` reads a saved
router from here, never the other way round.
"""
