"""Model choice for a new task (``routereval select``): the tables the README and docs/selection.md show."""

from __future__ import annotations

from registry import block


@block("select-llmrouter-published", checked=True)
def llmrouter_published(run) -> str:
    """Leave-one-task-out on LLMRouter with the authors' reference scheme (their code gives S3 = 0.6145)."""
    return run.text("select", "--dataset", "llmrouter", "--references", "published", "--markdown", "{out}")
