"""Every generated block by name: modules declare theirs with :func:`block`."""

from __future__ import annotations

from collections.abc import Callable

from blocks import Block

BLOCKS: dict[str, Block] = {}


def block(name: str, *, checked: bool = False, about: str = "") -> Callable:
    """Register the decorated ``make(runner) -> str`` as the block ``name``.

    ``checked`` blocks are recomputed by ``python docs/generate --check`` without naming them: the ones
    cheap enough for every CI run.
    """

    def register(make: Callable) -> Callable:
        if name in BLOCKS:
            raise ValueError(f"two blocks named {name!r}")
        BLOCKS[name] = Block(name, make, checked, about or (make.__doc__ or "").strip().splitlines()[0])
        return make

    return register
