"""docs/generate: the blocks of measured numbers in the README and docs/, written and checked from runs.

The real commands behind the README's blocks run in CI's docs step (`python docs/generate --check`); here
the machinery runs on a throwaway tree with blocks that need no command, and the repository's own files
are checked for well-formed, known, filled blocks.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import pytest
from support.processes import REPO

GENERATE = REPO / "docs" / "generate"


@pytest.fixture(scope="module")
def generate():
    sys.path.insert(0, str(GENERATE))
    try:
        yield importlib.import_module("blocks"), _load_main()
    finally:
        sys.path.remove(str(GENERATE))


def _load_main():
    spec = importlib.util.spec_from_file_location("docs_generate_main", GENERATE / "__main__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tree(tmp_path: Path, readme: str, page: str = "") -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text(readme)
    if page:
        (tmp_path / "docs" / "page.md").write_text(page)
    return tmp_path


def _registry(blocks, **texts):
    return {name.replace("_", "-"): blocks.Block(name.replace("_", "-"), (lambda run, t=t: t), checked=True)
            for name, t in texts.items()}


def test_write_fills_only_between_the_markers_then_check_passes(generate, tmp_path, capsys):
    blocks, main = generate
    readme = ("# Title\n\nBefore 1.5.\n<!-- begin generated: score -->\nold 0.1\n<!-- end generated: score -->\n"
              "After 2.5.\n")
    root = _tree(tmp_path, readme, page="x\n<!-- begin generated: score -->\n<!-- end generated: score -->\ny\n")
    registry = _registry(blocks, score="| mu_o |\n| 0.562 |")
    assert main.main([], root=root, registry=registry) == 0
    assert (root / "README.md").read_text() == readme.replace("old 0.1\n", "| mu_o |\n| 0.562 |\n")
    assert "| 0.562 |" in (root / "docs" / "page.md").read_text()  # every place the block sits
    assert main.main(["--check"], root=root, registry=registry) == 0


def test_check_fails_with_a_diff_where_a_number_drifted(generate, tmp_path, capsys):
    blocks, main = generate
    root = _tree(tmp_path, "<!-- begin generated: score -->\n| 0.562 |\n<!-- end generated: score -->\n")
    before = (root / "README.md").read_text()
    assert main.main(["--check"], root=root, registry=_registry(blocks, score="| 0.563 |")) == 1
    out, err = capsys.readouterr()
    assert "-| 0.562 |" in out and "+| 0.563 |" in out and "README.md (score" in out
    assert "1 generated block(s) differ" in err
    assert (root / "README.md").read_text() == before  # a check never writes


@pytest.mark.parametrize("text, message", [
    ("<!-- begin generated: score -->\nx\n", "README.md:1: block 'score' is never ended"),
    ("x\n<!-- end generated: score -->\n", "README.md:2: 'end generated: score' without its begin"),
    ("<!-- begin generated: score -->\n<!-- begin generated: other -->\n", "README.md:2: block 'other' begins inside"),
    ("<!-- begin generated: nope -->\n<!-- end generated: nope -->\n", "README.md:1: no block named 'nope'"),
])
def test_broken_markers_are_one_line_with_file_and_line(generate, tmp_path, capsys, text, message):
    blocks, main = generate
    root = _tree(tmp_path, text)
    assert main.main(["--check"], root=root, registry=_registry(blocks, score="s", other="o")) == 1
    assert message in capsys.readouterr().err


def test_a_block_that_sits_nowhere_or_an_unknown_name_is_refused(generate, tmp_path, capsys):
    blocks, main = generate
    root = _tree(tmp_path, "<!-- begin generated: score -->\n<!-- end generated: score -->\n")
    registry = _registry(blocks, score="s", orphan="o")
    assert main.main([], root=root, registry=registry) == 1
    assert "block orphan sits in no file" in capsys.readouterr().err
    assert main.main(["typo"], root=root, registry=registry) == 1
    assert "no block named typo" in capsys.readouterr().err


def test_the_repository_blocks_are_known_placed_and_filled(generate):
    # Every marker in the README and docs/ names a defined block, every defined block sits somewhere, and
    # none was committed empty; the README's main job and select tables are among the checked ones.
    blocks, main = generate
    found = blocks.scan(main.markdown_files(REPO), main.BLOCKS)
    placed = {p.name for places in found.values() for p in places}
    assert placed == set(main.BLOCKS)
    for path, places in found.items():
        text = path.read_text(encoding="utf-8")
        for p in places:
            assert text[p.start : p.end].strip(), f"{path}:{p.line}: block {p.name} is empty"
    checked = {n for n, b in main.BLOCKS.items() if b.checked}
    assert {"main-job", "select-llmrouter-published"} <= checked
