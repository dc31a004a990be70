"""MMLU-Pro (TIGER-AI-Lab/MMLU-Pro, Apache-2.0): 29 models x 12,032 questions, 14 categories.

Each ``eval_results/model_outputs_<model>_5shots.zip`` holds one JSON list with,
per question, ``question_id, question, options, answer, category, pred, ...``.
A record is correct when ``pred == answer``; ``pred`` is None where the model's
output could not be parsed, which counts as wrong (the model did answer). A
question absent from a model's file is a missing record, never a zero.

Data quirks handled (counts go in the benchmark's provenance notes):

* ``question_id`` is an int in some files and a string in others: read as int.
* The DeepSeek-Coder-V2 file has stray strings (``'other'``, ``'total'``, ...)
  among its records: non-record entries are skipped.
* The question set was revised between evaluation runs, so a few questions
  have a different answer key (or reworded text) in different files. Each
  model is scored against the answer key in its own file, as upstream scored
  it; the prompt table shows the version held by the most files.

Each reply (``model_outputs``) gives the record's output token count
(``o200k_base``); the 5-shot prompts are not stored, so input tokens are
unknown, and the source has no prices.

Only the zips that could be pinned by checksum are listed; upstream also
publishes larger ones (GPT-4o, Claude, ...).
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from routereval.errors import DataError
from routereval.machine import available_cpus
from routereval.records.benchmark import BINARY, Benchmark
from routereval.sources.registry import DatasetSpec, github_file, provenance, register
from routereval.sources.tokens import count_tokens

REPO = "TIGER-AI-Lab/MMLU-Pro"
COMMIT = "f418b116db00b065c2aea046518d8fcf74d39872"

# (model, sha256, size in bytes) of eval_results/model_outputs_<model>_5shots.zip
_ZIPS = (
    ("DeepSeek-Coder-V2", "7a1cb6f4f2dbb89c98d42c339f1b4008e8c33c5d48370822beef6826016a13d0", 4011875),
    ("Llama-2-13b-hf", "248fbe602862506158edc8e74bff78f1c66b889226a1f98750c207843dccebbf", 3175051),
    ("Llama-2-70b-hf", "1e3e50201339dfc25a4f2a009afecee6bc1d188f51c5fb4bd04b0b2bb683b9ce", 3276558),
    ("Llama-2-7b-hf", "57c47f6e70da9d5edf44a4803f75550c553feaadd94340dd9fef09afdeb82e09", 3098504),
    ("Meta-Llama-3-70B", "d38e3397a932d2fd120afe7ce1a91d77c9d47a2edafc0dcf47e088301167a39b", 4187941),
    ("Meta-Llama-3-8B", "e295f4844082081e8721d9c45bfff17ef1324e92ff0ae05d2c3057e3928a6b0e", 4136315),
    ("Meta-Llama-3_1-70B-Instruct", "26573565138fcd27358a0945c9f525a7d9a75a756689058a0d5bfcbc64fa55cb", 3745363),
    ("Meta-Llama-3_1-70B", "adad31c9ca629cd3143d0770fec98ca5763297cb349570eba4cf59a41d704476", 3500970),
    ("Meta-Llama-3_1-8B-Instruct", "d5e76b2564b5baad90892c3664287a51f562a3be792a130acaec458b8560a1cf", 3937818),
    ("Meta-Llama-3_1-8B", "ea8fe2417ec5bece1ebbd11d6bef2c9a23b13d56dcf1f7314aa1e492e528908f", 3481454),
    ("Mistral-7B-Instruct-v0.1", "8cda305359ec6f510451ea8baa659225b40b9919919096cd703624c4f8a35eb5", 3494303),
    ("Mistral-7B-Instruct-v0.2", "ff1c5ae8a0f6412cca52537746f192476398c24590a3fb79e8f10c300ffa8248", 3798841),
    ("Mistral-7B-v0.1", "d7fc5b95fe29f2e62fdf6ab7aad5da424f16a0ad204713db9f8f1fc7f25bbd72", 3177727),
    ("Mistral-7B-v0.2-hf", "5d3436b0cba3e371bf53aea1b8e24a9e35e6959ae68f70d3e297feedf989fe8f", 3176739),
    ("Mixtral-8x7B-Instruct-v0.1", "4716478ca233a86baa39b1c99452589191d8db3df3b398c871ff2832959408aa", 3521102),
    ("Mixtral-8x7B-v0.1", "c31198ca658a59b734f54b9c676fd481465def1e2a66900511cc1c81fc641163", 3289938),
    ("Phi-3-mini-4k-instruct", "7f45083108479ef586cc6c855325294c1220a9fcb614066abf22234a26d7037e", 3696740),
    ("Qwen1.5-110B", "37a0859dc3bbd2617fd2c612a8d1d28854c097651aceadb7b61f875828905c76", 3335590),
    ("Qwen1.5-72B-Chat", "a87935dfe3c349c06115a3b82e299dea30929a3b25ababc879394b58cc93c0b9", 4190708),
    ("Qwen1.5-7B-Chat", "e1819661f16044ee97734d292c9a7e40f38f9be0aae274642f07943ab69a37b5", 4054339),
    ("Yi-34B", "17e44df39275a324a250fee8b98f96d8cddcdc00e68f171f07996db9012c5f27", 3230333),
    ("Yi-6B", "2a85c02303f8e9b98ebd689f239c9fa7bf329014ec911c589f2a91fa47bc377d", 3206745),
    ("Yi-6b-Chat", "b79d5074c3685ee9be86d1ecc9c4eef93f234c9fa84db7ae3c1fbec250fa10bf", 3688068),
    ("c4ai-command-r-v01", "246e2da80791811b1f5a283b40b4f7d62dafc5128d2653edcfe9b81557762e52", 3738583),
    ("gemini-1.5-flash-002", "fed3caed9a9c1bfc7da74e5116f70ffdb9023794d1677eb2f7d48a2a4adec2e7", 3926017),
    ("gemini-1.5-pro-002", "7d95c116e999dc15012d753e871bbbc8fd4e74b9feb49b992ea55247576af370", 3554333),
    ("gemma-7b", "479a85f9f3598c5db75279e95452dd972a719f09eda983925be3595cb60767d9", 3293512),
    ("jamba-1.5-large", "c4685b28a9b56fcb1270d9d2674f4989f5fc45129f3f635207d3543d67da1a15", 2920361),
    ("mathstral-7B", "c5613c4778e8dfe18d53015aa5f163fd86141cde22cdb7667f235d496e025f9a", 3596659),
)

_PREFIX = "eval_results/model_outputs_"
_SUFFIX = "_5shots.zip"


def zip_path(model: str) -> str:
    """Repository path of a model's output zip."""
    return f"{_PREFIX}{model}{_SUFFIX}"


def model_name(path: str) -> str:
    """The ``<model>`` part of ``eval_results/model_outputs_<model>_5shots.zip``."""
    name = path.rsplit("/", 1)[-1]
    return name[len("model_outputs_") : -len(_SUFFIX)]


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector.

    Reading the zips allocates millions of containers that live on; the
    collector would rescan them again and again (about a third of the build
    time) and find no cycles, since parsed JSON holds none.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _read_zip(path: Path) -> list[Any]:
    try:
        with zipfile.ZipFile(path) as zf:
            members = [n for n in zf.namelist() if n.endswith(".json")]
            if len(members) != 1:
                raise DataError(f"should hold exactly one .json file, found {len(members)}", file=str(path))
            data = json.loads(zf.read(members[0]))
    except zipfile.BadZipFile as exc:
        raise DataError(f"is not a valid zip archive ({exc})", file=str(path)) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"does not hold valid JSON ({exc})", file=str(path)) from exc
    if not isinstance(data, list):
        raise DataError(f"should hold a JSON list of records, got {type(data).__name__}", file=str(path))
    return data


def _question_id(raw: Any, path: Path, entry: int) -> int:
    # Some files write ids as strings ("70"), others as ints; bools are not ids.
    if isinstance(raw, bool):
        raw = None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise DataError(
            f"entry {entry} of the JSON list (1-based): question_id {raw!r} is not an integer",
            file=str(path), row=entry, column="question_id",
        ) from None


def _read_model(path: Path) -> tuple[dict[int, tuple[str, str, str]], dict[int, bool], int, dict[int, str]]:
    """A model's file -> (id -> (question, answer, category), id -> correct, stray entries, id -> reply)."""
    versions: dict[int, tuple[str, str, str]] = {}
    correct: dict[int, bool] = {}
    replies: dict[int, str] = {}
    stray = 0
    for entry, item in enumerate(_read_zip(path), start=1):
        if not isinstance(item, dict):
            stray += 1
            continue
        qid = _question_id(item.get("question_id"), path, entry)
        if qid in correct:
            raise DataError(
                f"entry {entry} of the JSON list (1-based): question_id {qid} appears twice",
                file=str(path), row=entry, column="question_id",
            )
        for key in ("question", "answer", "category"):
            if not isinstance(item.get(key), str):
                raise DataError(
                    f"entry {entry} of the JSON list (1-based): {key!r} should be a string",
                    file=str(path), row=entry, column=key,
                )
        versions[qid] = (item["question"], item["answer"], item["category"])
        correct[qid] = item.get("pred") == item["answer"]
        reply = item.get("model_outputs")
        if isinstance(reply, str):
            replies[qid] = reply
    return versions, correct, stray, replies


def _read_counted(path: Path) -> tuple[dict[int, tuple[str, str, str]], dict[int, bool], int, dict[int, float]]:
    """:func:`_read_model` with each reply replaced by its token count (what a worker sends back)."""
    with _gc_paused():
        versions, correct, stray, replies = _read_model(path)
        return versions, correct, stray, dict(zip(replies, count_tokens(replies.values())))


def _read_all(paths: list[Path]) -> Iterator[tuple[Any, ...]]:
    """:func:`_read_counted` of each file, in order; in forked worker processes where that is safe and useful.

    Decompressing, parsing and counting the tokens of 29 files is CPU-bound and
    the files are independent: on 2 CPUs the store builds in 6 s instead of 10.
    Workers are forked, not spawned: a spawned worker re-imports the caller's
    main module, which breaks any script without an ``if __name__ == "__main__"``
    guard. Forking is used on Linux only (macOS system libraries are not
    fork-safe); the workers touch nothing but the files and their result.
    """
    workers = min(available_cpus(), len(paths))
    if workers < 2 or sys.platform != "linux":
        yield from map(_read_counted, paths)
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        yield from pool.map(_read_counted, paths)


def build(local: dict[str, Path]) -> Benchmark:
    """Read every model's output zip into one binary benchmark (questions by id)."""
    files = [f for f in SPEC.files + SPEC.optional_files if f.path in local]
    names = [model_name(f.path) for f in files]
    per_model = []
    reply_tokens: list[dict[int, float]] = []
    # question id -> {(question, answer, category): number of files}, in file order
    seen: dict[int, dict[tuple[str, str, str], int]] = {}
    stray: dict[str, int] = {}
    with _gc_paused():
        for name, (versions, correct, n_stray, counts) in zip(names, _read_all([local[f.path] for f in files])):
            per_model.append(correct)
            reply_tokens.append(counts)
            if n_stray:
                stray[name] = n_stray
            for qid, version in versions.items():
                counts = seen.get(qid)
                if counts is None:
                    seen[qid] = {version: 1}
                else:
                    counts[version] = counts.get(version, 0) + 1

    qids = sorted(seen)
    row = {q: i for i, q in enumerate(qids)}
    values = np.full((len(qids), len(names)), np.nan, dtype=np.float32)
    for j, correct in enumerate(per_model):
        idx = np.fromiter((row[q] for q in correct), dtype=np.int64, count=len(correct))
        values[idx, j] = np.fromiter(correct.values(), dtype=np.float32, count=len(correct))

    output_tokens = np.full_like(values, np.nan)
    for j, counts in enumerate(reply_tokens):
        idx = np.fromiter((row[q] for q in counts), dtype=np.int64, count=len(counts))
        output_tokens[idx, j] = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))

    # max() keeps the first of equal counts, so ties go to the version seen first (file order).
    chosen = [max(seen[q].items(), key=lambda kv: kv[1])[0] for q in qids]
    n_answer_revised = sum(len({a for _, a, _ in seen[q]}) > 1 for q in qids)
    n_text_revised = sum(len({t for t, _, _ in seen[q]}) > 1 for q in qids)
    prompts = pd.DataFrame(
        {
            "prompt_id": [str(q) for q in qids],
            "task": [c for _, _, c in chosen],
            "text": [t for t, _, _ in chosen],
            "reference": [a for _, a, _ in chosen],
        }
    )

    notes = [
        f"{name}: {n} non-record entries (stray strings) skipped" for name, n in stray.items()
    ]
    n_missing = int(np.isnan(values).sum())
    if n_missing:
        short = {n: int(c) for n, c in zip(names, np.isnan(values).sum(axis=0)) if c}
        detail = ", ".join(f"{n} lacks {c}" for n, c in short.items())
        notes.append(f"{n_missing} missing records (questions absent from a model's file: {detail})")
    if n_answer_revised or n_text_revised:
        notes.append(
            f"{n_answer_revised} questions have a different answer key and {n_text_revised} a different "
            "text in different files (revisions of the question set); each model is scored against "
            "its own file's answer, and the prompt table shows the version found in most files"
        )
    notes.append("pred None (unparseable output) is scored wrong, as upstream does")
    notes.append("output_tokens: o200k_base counts of each model_outputs reply; input tokens unknown (the "
                 "5-shot prompts are not stored); no prices in the source (give them with --prices)")
    prov = provenance(SPEC, local)
    prov["notes"] = notes
    return Benchmark.from_values(SPEC.name, values, prompts, names, kind=BINARY, provenance=prov,
                                 input_tokens=np.full_like(output_tokens, np.nan), output_tokens=output_tokens)


SPEC = register(
    DatasetSpec(
        name="mmlu-pro",
        description="MMLU-Pro: 29 LLMs x 12,032 ten-option questions in 14 categories (5-shot CoT outputs)",
        license="Apache-2.0",
        homepage=f"https://github.com/{REPO}",
        version=COMMIT,
        files=tuple(
            github_file(REPO, COMMIT, zip_path(m), sha, size) for m, sha, size in _ZIPS
        ),
        build=build,
        n_prompts=12032,
        n_models=29,
    )
)
