"""Routers: learners that estimate each candidate's expected score on a prompt, in [0, 1]."""

from routereval.routers.adapters import SklearnRouter, from_sklearn
from routereval.routers.base import Labelled, Prompts, Router, all_routers, make_router, register

__all__ = ["Labelled", "Prompts", "Router", "SklearnRouter", "all_routers", "from_sklearn", "make_router", "register"]
