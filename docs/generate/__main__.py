"""Write every measured number in the README and docs/ from real runs, or check that they still hold.

    python docs/generate                      # run every block's commands and rewrite the files (slow)
    python docs/generate main-job             # only the blocks named
    python docs/generate --check              # recompute the blocks marked checked; exit 1 with a diff on drift
    python docs/generate --check BLOCK ...    # recompute the blocks named
    python docs/generate --list               # every block, where it sits, and what it holds
    python docs/generate --versions           # installed versions that differ from the last tested ones

The commands run as a user runs them (``python -m routereval ...`` in this environment: set
ROUTEREVAL_MIRROR to read a local mirror instead of downloading). A file is rewritten only where a block's
text changed, atomically; text outside the markers is never touched.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from routereval.atomic import write_text_atomic

import blocks
import environment
from registry import BLOCKS
from runner import REPO, CommandFailed, Runner

# Every other module beside this one declares blocks: importing it registers them.
_FRAMEWORK = {"__main__", "blocks", "reading", "registry", "runner"}
for _module in sorted(p.stem for p in Path(__file__).parent.glob("*.py") if p.stem not in _FRAMEWORK):
    importlib.import_module(_module)


def markdown_files(root: Path = REPO) -> list[Path]:
    """The README, the changelog and every Markdown page under docs/."""
    files = [root / "README.md", *sorted((root / "docs").rglob("*.md"))]
    return [f for f in files if f.is_file()]


def main(argv: list[str] | None = None, *, root: Path = REPO, registry: dict | None = None) -> int:
    """The command line above; ``root`` and ``registry`` stand in for the repository and its blocks in tests."""
    known = BLOCKS if registry is None else registry
    parser = argparse.ArgumentParser(prog="python docs/generate", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="blocks to compute (default: all; with --check, the checked ones)")
    parser.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on a difference")
    parser.add_argument("--list", action="store_true", help="list the blocks and where they sit")
    parser.add_argument("--versions", action="store_true", help="print installed versions that differ from the "
                        "README's last tested ones (never fails: newer releases are what CI is for)")
    args = parser.parse_args(argv)
    try:
        found = blocks.scan(markdown_files(root), known)
    except blocks.BlockError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    sites = {name: [f"{p.path.relative_to(root)}:{p.line}" for ps in found.values() for p in ps if p.name == name]
             for name in known}
    if args.list:
        for name, b in known.items():
            flag = " (checked)" if b.checked else ""
            print(f"{name}{flag}: {b.about}\n    in {', '.join(sites[name]) or 'no file'}")
        return 0
    if args.versions:
        readme = root / "README.md"
        place = next((p for p in found.get(readme, []) if p.name == "tested-versions"), None)
        if place is None:
            print("error: README.md has no tested-versions block", file=sys.stderr)
            return 1
        changed = environment.compare(readme.read_text(encoding="utf-8")[place.start : place.end])
        print("\n".join(["installed, newer or older than last tested:", *changed]) if changed
              else "every dependency is at the version last tested")
        return 0
    unknown = [n for n in args.names if n not in known]
    if unknown:
        print(f"error: no block named {', '.join(unknown)} (python docs/generate --list)", file=sys.stderr)
        return 1
    names = args.names or [n for n, b in known.items() if b.checked or not args.check]
    unplaced = [n for n in names if not sites[n]]
    if unplaced:
        print(f"error: block {', '.join(unplaced)} sits in no file", file=sys.stderr)
        return 1
    runner = Runner()
    new = {}
    try:
        for name in names:
            try:
                new[name] = known[name].make(runner)
            except CommandFailed as exc:
                print(f"error: block {name}: {exc}", file=sys.stderr)
                return 1
            except (OSError, KeyError, ValueError) as exc:  # a results file missing or not as the block expects
                print(f"error: block {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
                return 1
    finally:
        runner.close()
    drift = []
    for path, places in found.items():
        text = path.read_text(encoding="utf-8")
        if args.check:
            drift += blocks.differences(path.relative_to(root), text, places, new)
            continue
        updated = blocks.fill(text, places, new)
        if updated != text:
            write_text_atomic(path, updated)
            print(f"wrote {path.relative_to(root)}", file=sys.stderr)
    if drift:
        print("\n\n".join(drift))
        print(f"error: {len(drift)} generated block(s) differ from what the commands print now; "
              "run `python docs/generate BLOCK ...` and commit the result", file=sys.stderr)
        return 1
    if args.check:
        print(f"checked {len(names)} block(s): {', '.join(names)}: as the commands print them", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
