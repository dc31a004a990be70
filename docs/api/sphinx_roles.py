"""A griffe extension for the API reference: Sphinx roles in docstrings shown as code.

The docstrings name other objects the way Sphinx and ``help()`` readers know,
``:func:`~routereval.metrics.mean_score```; Markdown would print the role
verbatim. This shows what Sphinx shows, the name in code type (only its last
part after ``~``), without a link: a link whose target is not documented would
fail the strict build.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|exc|obj|const):`(~?)([^`]+)`")


def _as_code(match: re.Match[str]) -> str:
    name = match.group(2)
    return f"`{name.rsplit('.', 1)[-1] if match.group(1) else name}`"


class SphinxRoles(griffe.Extension):
    # Called once per object after its package is loaded, when every docstring is set
    # (a module's own docstring is not yet set when its instance is created).
    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(_as_code, obj.docstring.value)
