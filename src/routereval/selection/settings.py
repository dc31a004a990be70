"""The settings of task selection (leave-one-task-out and a new task's choice): the published numbers as defaults."""

from __future__ import annotations

from dataclasses import dataclass

from routereval.errors import ConfigError
from routereval.selection import scores as sc

MAX_REVEALED = 50
REFERENCES = ("loto", "published")


@dataclass(frozen=True)
class Settings:
    """The published numbers, as defaults."""

    n_descriptor: int = 19
    bandwidth: float = sc.BANDWIDTH
    n_draws: int = sc.N_DRAWS
    win_share: float = sc.WIN_SHARE
    max_revealed: int = MAX_REVEALED
    seed: int = 0
    references: str = "loto"  # or "published" (see :mod:`routereval.selection.protocol`)
    pool_alphas: bool = False  # one set of reference pairs over every alpha of the run

    def __post_init__(self) -> None:
        if self.references not in REFERENCES:
            raise ConfigError(f"unknown reference protocol {self.references!r}; known: {', '.join(REFERENCES)}")
