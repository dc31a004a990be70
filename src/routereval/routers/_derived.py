"""State a router derives from its learned state, computed once per fit or load and never saved.

Prediction needs some arrays that follow from the learned state alone (unit-length
training vectors, folded factor products); computing them per call costs more than the
prompt-dependent work. :func:`derived` caches them on the router; :class:`DerivedState`
keeps the cache out of pickles. Saved artifacts hold public learned state only, so the
cache (a private name) is never written and is rebuilt on first use after a load.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Where a router keeps state derived from its learned state (see derived()). The trailing "_" marks it as
# set by fit; the leading "_" keeps it out of saved artifacts, which hold public learned state only.
_DERIVED = "_derived_"


def derived(router: Any, key: str, sources: tuple[Any, ...], build: Callable[..., Any]) -> Any:
    """``build(*sources)``, computed once per fitted or loaded state and cached on ``router`` under ``key``.

    Prediction needs some arrays that follow from the learned state alone (unit-length
    training vectors, folded weights); computing them per call costs more than the
    prompt-dependent work. The cache is valid while ``sources`` are the very objects it
    was built from: a re-fit, a loaded artifact (whose state is set attribute by
    attribute) or an added candidate puts new arrays there, and the next call rebuilds it.
    Changing a learned array in place is not detected. Routers using it derive from
    :class:`DerivedState`, so pickles leave the cache out.
    """
    cache = router.__dict__.get(_DERIVED)
    if cache is None:
        cache = {}
        setattr(router, _DERIVED, cache)
    # The cache holds the sources themselves, so their ids cannot be reused by other objects while it lives.
    ids = tuple(map(id, sources))
    hit = cache.get(key)
    if hit is not None and hit[0] == ids:
        return hit[2]
    value = build(*sources)
    cache[key] = (ids, sources, value)
    return value


class DerivedState:
    """Mixin for routers that cache with :func:`derived`: pickles carry the learned state only."""

    def __getstate__(self) -> dict[str, Any]:
        # The cache can be as large as the training vectors; it is rebuilt on first use after unpickling.
        return {k: v for k, v in self.__dict__.items() if k != _DERIVED}
