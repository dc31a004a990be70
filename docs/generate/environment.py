"""The versions the numbers and the test suite were last run with."""

from __future__ import annotations

import platform
from importlib import metadata

from registry import block

# The dependencies whose new releases have broken or could break us: the direct ones.
PACKAGES = ("numpy", "pandas", "pyarrow", "scikit-learn", "scipy", "typer", "rich", "onnxruntime", "onnx",
            "tokenizers", "torch", "sentence-transformers", "fastapi", "uvicorn", "httpx", "aiohttp", "openai",
            "pytest", "hypothesis")


def installed() -> dict[str, str]:
    """Version of each of :data:`PACKAGES` installed here (those not installed are left out)."""
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


@block("tested-versions")
def tested_versions(run) -> str:
    """Python and the direct dependencies' versions of the environment that wrote these docs."""
    return f"Python {platform.python_version()}; " + ", ".join(f"{n} {v}" for n, v in installed().items()) + "."


def compare(written: str) -> list[str]:
    """Lines naming each package whose installed version differs from the one in the tested-versions block."""
    tested = dict(part.rsplit(" ", 1) for part in written.strip().rstrip(".").split("; ", 1)[-1].split(", ") if " " in part)
    return [f"{name} {version} (last tested: {tested.get(name, 'not installed')})"
            for name, version in installed().items() if tested.get(name) != version]
