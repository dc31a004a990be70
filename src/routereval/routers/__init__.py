"""Routers: scorers that estimate each candidate's quality on a prompt."""

from routereval.routers.base import Prompts, Router, all_routers, make_router, register

__all__ = ["Prompts", "Router", "all_routers", "make_router", "register"]
