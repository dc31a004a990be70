"""The machinery behind the catalogue of docs/errors.md, shared by every test module that adds rows to it.

A case runs the real command line in-process (``routereval.cli.run``) in its
own folder and must end with the exit code of its row and, when it fails, with
exactly one ``error:`` line and no traceback. The row of docs/errors.md with
the case's id must show the same exit code and the same line, so the catalogue
cannot drift from what users see. Each module owns some areas (the second
column of the table) and checks that the doc lists exactly its cases there.

Regenerate rows after changing a message with
``ROUTEREVAL_ERRORS_DOC_DUMP=rows.jsonl pytest tests/project tests/serving/test_proxy_hostile.py -k test_case``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "errors.md"
#: A home that cannot be written: a read-only folder, or (as root, who may write anywhere) a path under /sys.
RO_HOME = "{t}/ro/home" if os.geteuid() != 0 else "/sys/routereval-test-home"


@dataclass(frozen=True)
class Case:
    """One row of the catalogue. ``{t}`` in args and env stands for the case's folder."""

    id: str
    area: str
    input: str
    args: tuple[str, ...]
    code: int
    expect: tuple[str, ...] = ()
    files: dict = field(default_factory=dict)  # name -> str | bytes | callable(path)
    setup: Callable[[Path], None] | None = None
    env: dict = field(default_factory=dict)
    traceback: bool = False


def fill(text: str, tmp: Path) -> str:
    """``{t}`` in a case's arguments replaced by its folder."""
    return text.replace("{t}", str(tmp))


def run_case(case: Case, tmp: Path, monkeypatch, capsys) -> tuple[int, str, str]:
    """Run one case in ``tmp/work``: (exit code, stdout, stderr)."""
    from routereval.cli import run

    work = tmp / "work"
    work.mkdir()
    for name, content in case.files.items():
        path = work / name
        if callable(content):
            content(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    for key, value in case.env.items():
        monkeypatch.setenv(key, fill(value, tmp))
    monkeypatch.chdir(work)
    if case.setup is not None:
        case.setup(tmp)
    capsys.readouterr()
    code = run([fill(a, tmp) for a in case.args])
    out, err = capsys.readouterr()
    return code, out, err


def seen_message(code: int, out: str, err: str, tmp: Path) -> str:
    """The line a user reads: the error line, or the first line of the output."""
    lines = [ln.strip() for ln in err.splitlines() if ln.startswith("error:")]
    if not lines:
        lines = [ln.strip(" │╭╮╰╯─") for ln in out.splitlines() if ln.strip(" │╭╮╰╯─")]
    line = lines[0] if lines else ""
    home = os.environ["ROUTEREVAL_HOME"]
    for path, label in ((home, "<home>"), (str(tmp), "<tmp>"), (fill(RO_HOME, tmp), "<read-only>")):
        line = line.replace(path, label)
    # What the kernel calls a refused write depends on who runs the tests and where.
    line = re.sub(r"\((Operation not permitted|Permission denied|Read-only file system)\)", "(<refused>)", line)
    return re.sub(r"\(\d+\.\d\d s\)", "(<time> s)", line)


def doc_rows() -> dict[str, dict[str, str]]:
    """Every row of docs/errors.md's tables, by case id."""
    rows = {}
    if not DOC.is_file():
        return rows
    for line in DOC.read_text().splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        case_id, area, _input, message, code = cells[:5]
        rows[case_id.strip("`")] = {"area": area, "message": message.strip("`").replace("\\|", "|"), "code": code}
    return rows


DOC_ROWS = doc_rows()
# The typer the messages of docs/errors.md were taken from; see check_case for the one difference it makes.
DOC_TYPER_VERSION = "0.29"
_DOC_TYPER = __import__("typer").__version__.startswith(DOC_TYPER_VERSION)


def record_row(case: Case, code: int, message: str) -> bool:
    """When regenerating the doc (ROUTEREVAL_ERRORS_DOC_DUMP), append what the user saw; True if so."""
    dump = os.environ.get("ROUTEREVAL_ERRORS_DOC_DUMP")
    if not dump:
        return False
    with open(dump, "a") as f:
        f.write(json.dumps({"id": case.id, "area": case.area, "input": case.input, "code": code,
                            "message": message}) + "\n")
    return True


def check_doc_row(case_id: str, code: int, message: str) -> None:
    """The row of docs/errors.md for ``case_id`` shows exactly this exit code (or status) and line."""
    row = DOC_ROWS.get(case_id)
    assert row is not None, f"docs/errors.md has no row for {case_id!r}"
    if code == 2 and not _DOC_TYPER:
        # Usage errors are worded by typer (or click); other versions word them differently.
        assert row["code"] == "2"
        return
    assert (row["code"], row["message"]) == (str(code), message), (
        f"docs/errors.md row {case_id!r} says {row['code']}: {row['message']!r}\nbut the user sees "
        f"{code}: {message!r}"
    )


def check_case(case: Case, tmp_path: Path, monkeypatch, capsys) -> tuple[int, str, str]:
    """Run a case and check everything the catalogue promises about it; returns what run_case returned."""
    code, out, err = run_case(case, tmp_path, monkeypatch, capsys)
    assert code == case.code, f"exit {code}, expected {case.code}\nstdout:\n{out}\nstderr:\n{err}"
    seen = err if code != 0 else out + err
    for fragment in case.expect:
        if code == 2:  # typer's wording of usage errors varies in case between versions
            fragment, seen = fragment.lower(), seen.lower()
        assert fragment in seen, f"{fragment!r} not in:\n{seen}"
    if case.traceback:
        assert "Traceback" in err
    else:
        assert "Traceback" not in err + out
    if code != 0 and not case.traceback:
        assert len(err.strip().splitlines()) == 1 and err.startswith("error:"), f"not one error line:\n{err}"
    message = seen_message(code, out, err, tmp_path)
    if not record_row(case, code, message):
        check_doc_row(case.id, code, message)
    return code, out, err


def check_doc_lists_exactly(areas: Iterable[str], case_ids: Iterable[str]) -> None:
    """docs/errors.md's rows in ``areas`` are exactly these cases: none missing, none left over."""
    areas = set(areas)
    ids = list(case_ids)
    assert len(set(ids)) == len(ids), "two cases share an id"
    ours = {k for k, row in DOC_ROWS.items() if row["area"] in areas}
    assert ours == set(ids), f"in the doc only: {sorted(ours - set(ids))}; in the tests only: {sorted(set(ids) - ours)}"
