"""`routereval route`'s ranked list is printed by the one table rule of every command: at 80 columns in a
terminal no line is wider and no name or number is cut; in a file every column is whole on one line.

The artifact is trained for real (knn on the tiny three-topic benchmark) with long model names that share
all but their last part, so a cut name could not be told from the others; the command runs as a real
process.
"""

from __future__ import annotations

import numpy as np
import pytest
from support.terminal import assert_readable, cell_lines, on_terminal, to_file
from support.tiny_routing import tiny_benchmark

#: The tiny benchmark's three models, renamed: 56-57 characters, alike up to their last part.
LONG = ["meta-llama/llama-3.1-405b-instruct-turbo-for-mathematics",
        "meta-llama/llama-3.1-405b-instruct-turbo-for-programming",
        "meta-llama/llama-3.1-405b-instruct-turbo-for-poetry"]
PROMPT = "solve this quadratic equation for x"


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    from routereval.deploy.train import train_model
    from routereval.records import Benchmark

    tiny = tiny_benchmark()
    models = tiny.models.copy()
    models["name"] = LONG
    bench = Benchmark.from_values("long", np.asarray(tiny.values()), tiny.prompts, models)
    folder = tmp_path_factory.mktemp("route") / "art"
    train_model(bench, "knn", {"k": 3}, "tfidf-16", progress=False).save(folder)
    return folder


def expected_rows(artifact) -> list[list[str]]:
    """The ranked list as the library gives it, in the table's cells."""
    from routereval.deploy.model import RoutingModel

    ranked = RoutingModel.load(artifact).route(PROMPT)[0].to_dict()["ranked"]
    return [[str(i), r["model"], f"{r['quality']:.3f}", f"{r['cost']:.6f}"] for i, r in enumerate(ranked, 1)]


def test_the_ranked_list_fits_80_columns_and_cuts_nothing(artifact):
    code, text = on_terminal("route", str(artifact), PROMPT)
    assert code == 0, text
    assert_readable(text, 80)
    assert "chosen: " + LONG[0] in text
    expected = expected_rows(artifact)
    # The tiny benchmark is built so: the maths model is right on every maths prompt, the others never.
    assert expected[0][1:3] == [LONG[0], "1.000"] and {r[2] for r in expected[1:]} == {"0.000"}
    # A row's name may go on to the next line, split after a separator: put each row back together.
    rows: list[list[str]] = []
    for cells in cell_lines(text):
        if cells[0]:
            rows.append(cells)
        else:  # a continuation line: only the name goes on
            assert not any(cells[2:]) and rows, cells
            rows[-1][1] += cells[1]
    assert rows == expected


@pytest.mark.slow  # trains and routes in processes
def test_off_a_terminal_every_column_is_whole_on_one_line(artifact, tmp_path):
    text = to_file(tmp_path, "route", str(artifact), PROMPT)
    (header,) = [line for line in text.splitlines() if line.startswith("┃")]
    assert [c.strip() for c in header.strip("┃").split("┃")] == ["rank", "model", "quality", "est. $/request"]
    assert cell_lines(text) == expected_rows(artifact)
