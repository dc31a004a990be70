"""RouteLLM (lm-sys/RouteLLM, Apache-2.0): a strong/weak pair on MMLU, GSM8K and MT-Bench.

The pair is gpt-4-1106-preview (strong) and Mixtral-8x7B-Instruct-v0.1 (weak).
Three datasets are registered:

* ``routellm-mmlu``: ``routellm/evals/mmlu/responses/mmlu_<subject>.csv``, 57
  subjects, 14,042 prompts, one True/False column per model. Task = subject,
  subjects in sorted order, prompts in file order; ids ``<subject>-<i>``.
* ``routellm-gsm8k``: ``routellm/evals/gsm8k/gsm8k_responses.csv``, 1,319 test
  problems, True/False per model; the ``*_response`` text columns give
  output token counts (o200k_base), the prompt column input token counts.
  Task ``gsm8k``; ids ``gsm8k-<i>``.
* ``routellm-mtbench``: ``routellm/evals/mt_bench/{question,judgements}.jsonl``,
  80 questions x 2 turns = 160 prompts with ids ``<question_id>-t<turn>`` and
  task = category. A turn-2 prompt's text is both user turns joined by a blank
  line, since the judged answer was written with both in view.

**MT-Bench scores are rescaled.** The GPT-4 judge gives a score s from 1 to 10
(halves occur). The stored score is ``(s - 1) / 9``, which maps 1 -> 0 and
10 -> 1, so the benchmark is continuous in [0, 1]. A score of -1 (the judge's
output could not be parsed) or any score outside 1..10 is a missing record,
counted in the provenance notes. Several judgements for one (question, turn,
model) are ambiguous and raise :class:`~routereval.errors.DataError`.

Both models carry the prices the RouteLLM authors state (GPT-4 $24.7 and
Mixtral $0.24 per 1M tokens, input and output alike; ``prices/routellm.csv``).

In both CSV sources any score cell other than ``True`` / ``False`` raises a
DataError giving the file, the data row and the line the record starts on.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from routereval.errors import DataError
from routereval.records.benchmark import BINARY, CONTINUOUS, Benchmark
from routereval.sources.jsonl import json_objects
from routereval.sources.registry import DatasetSpec, RemoteFile, github_file, provenance, register

REPO = "lm-sys/RouteLLM"
COMMIT = "0b64fdafe049e596a3f5657c219329f24af24198"
LICENSE = "Apache-2.0"
HOMEPAGE = f"https://github.com/{REPO}"

WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
STRONG = "gpt-4-1106-preview"
PAIR = (WEAK, STRONG)

MMLU_DIR = "routellm/evals/mmlu/responses"
GSM8K = "routellm/evals/gsm8k/gsm8k_responses.csv"
MT_QUESTIONS = "routellm/evals/mt_bench/question.jsonl"
MT_JUDGEMENTS = "routellm/evals/mt_bench/judgements.jsonl"

# (subject, sha256, size in bytes) of routellm/evals/mmlu/responses/mmlu_<subject>.csv
_MMLU = (
    ("abstract_algebra", "67e564eea42e71fbfcaf616972df952c316e5538376da1c16d691177458b96b9", 20003),
    ("anatomy", "53ebea8257805eeecc25713728264b8235cffad7b720962a3eafc92fd27ef537", 33922),
    ("astronomy", "49915ece9dfe8aadbd351f221ada2ea86b6f832ce49fa64d1622a0f066c19794", 47647),
    ("business_ethics", "13a45bed754ffe8f0e7f0348e69085c648a1ae0e91aa76cd5e6906fa45f7ec8e", 33854),
    ("clinical_knowledge", "5ea37709bfbad4df7a3fcbd8973413f7645a2adfef9772490f09d3f293ffe882", 64226),
    ("college_biology", "c38620db5b9f6f1b0fde7bc8d8299b8e2305c4dacbb1567c904cd51618d627d5", 49612),
    ("college_chemistry", "78ca6ba22ff25c8fdb93e1c6e84384e72522106c73ed5ee9fed620928ce395ce", 25362),
    ("college_computer_science", "8a7b2a87a36b428c9d1a8f12ce3b01cf7920f0a7146d6f8a111da6749c332da3", 43299),
    ("college_mathematics", "3f22f42779c48509c66e21d7d1fc3054eb0256c1b5b772bb6d9a3af1b253238b", 25385),
    ("college_medicine", "63d71d29e630fc6538e1705a51f4267bdbbdea0fa7ee85056ad7d6f8f10d3987", 83407),
    ("college_physics", "8162a0660d4ef7b963088e0a176d4b8630096127a0d0b5ed003f649cbad34455", 30851),
    ("computer_security", "26446faf7460f03aa2d82a05c170faedb5cbf6d7bdda133b1146229107097d1c", 27712),
    ("conceptual_physics", "ea40473704b64cb60d564ffe91962848ec6fc3106b40089d08cebc98d5c7226d", 42034),
    ("econometrics", "927b4d877cec8697f3b8378bb7e7c7a279babaea2edacf350ea50908701907b9", 47278),
    ("electrical_engineering", "de2fb7c2e9addb4808f5b3f7c79efbfdfb86216235bb7dc28ab70bc53664f11e", 26003),
    ("elementary_mathematics", "88697ff0d238b5852c7a959379dc8b0b45c3554ed4b2ee7cbb7ffc34e06c7cf5", 72419),
    ("formal_logic", "094a462626468569ad595c03e66e73a299188cfa175248b499dba94e005506e6", 50588),
    ("global_facts", "6f75ddf7d6eb94ac0471529a85ff7f8b738c9f4055185b3114eed26393222d06", 19055),
    ("high_school_biology", "444982fc2c750ab8cbc6942a0c0267040aa5023c1d2364247d20e2a28b4e325d", 111417),
    ("high_school_chemistry", "ae5e62479365dcd056354c568f60da65b1df9f1de57dda3953a8e9933a6f12e4", 59694),
    ("high_school_computer_science", "d156d9448a6e899f7f976a0afac148a928bf709a2baa573f0c407854a25bdb11", 45133),
    ("high_school_european_history", "c64afd6c5e30ef0cd5c10beab961ac05e7ba55d6b48cd93bf6ad0a45f90515bf", 271527),
    ("high_school_geography", "21b12044be4a6b9813880ad46372006dc0846e7f85fa46883bb73dbd90fba30a", 43125),
    ("high_school_government_and_politics", "2791689acc61775a5857f4f3a5fd248d30552553c3a96f6ee63dc28285437259", 67164),
    ("high_school_macroeconomics", "73b931a2a06ba74a5c9f1e005d45a25004e36be5d075d98f8ebcf89b3fda367b", 119896),
    ("high_school_mathematics", "151b2a736981b7b20f3bad99de6a573e4692d68cf87020e943b601b70bb37390", 56703),
    ("high_school_microeconomics", "f7ea151efb4c9d96374db3358ac7e97e4d8349e26715f61dac98bc9d854ca046", 77019),
    ("high_school_physics", "1e2103fc8f7f1cfac7c00952b26db2418acab092486af78a9c51c551ae2ff9be", 60489),
    ("high_school_psychology", "d11604f2c7a2425258d5b9a285ef71737c011cc3a91456890f088a0ee4c55212", 162370),
    ("high_school_statistics", "de6642bcd93d7a80e7bbd73d987a44d67b6e537b47749ddc518122fd582703bb", 112040),
    ("high_school_us_history", "a71186d143363e203b2f216d78c9d21f10cca51de455ef176c9c01b77f546592", 298464),
    ("high_school_world_history", "e9c52305977dc37b3e48eee727ad933b2d24d96ca3a06aec865a8900b1e87d2c", 380424),
    ("human_aging", "0d6c4109b4f61f138781ce50bbc60ff2e90dd451694d3926a088be5a5bd88aa8", 47361),
    ("human_sexuality", "20916037e3012731883f926738daf47ed994f74ba25518fdb7f0df72a81143fd", 32866),
    ("international_law", "e389b886e3e1570bfdf798f6f56dc3c675350200c5baf0f41a0766294ff312eb", 54224),
    ("jurisprudence", "7e94c3849231be7b2654db11e44ee51531f8474e300fe83b1e05438df3038f0b", 34614),
    ("logical_fallacies", "fa2d94cd2e901621aaebd0a7e64560b5dbbe4249086795398533eed2561c0c1e", 51102),
    ("machine_learning", "9301e928481be6e20b3541e1ac112b25a4a71338b21592978c0d219cb6240020", 34575),
    ("management", "a00b12ab0265918f9335a85ce02303ddaea0491a7b099f88a05986eeac4aa4fb", 20594),
    ("marketing", "3ee0b6560ebe0eb4f14ce63227d6f6ec8cb8b6e57e345eae9460be742672f36c", 64281),
    ("medical_genetics", "7c830f87dcbc0029137b3400cf361931831cb57dda55717a64e72ad74663d5df", 21444),
    ("miscellaneous", "c2e1a5b0394a8429f55b6340e1865166ac17ec6b3571523005e413b3b2843b9f", 151860),
    ("moral_disputes", "8b2b973b1987b724f39fd10970604d7f1150747a0db9ce766c193bd978c9d0c4", 109870),
    ("moral_scenarios", "78ded6fdca1cd0d5c4ed16a5ed4aebf2e98401b9c00b20e565e6cce5bf1153c7", 379235),
    ("nutrition", "ba197fbf4b6c5034414d66ea7747211056cf5f709f83d919d2d856245720cc51", 94113),
    ("philosophy", "2f30ad01ab529ddea00dff4ff87e950fef838a78754c94f6884120628a7d0591", 81836),
    ("prehistory", "afc816d4b78814627bae9b8c3730a9bb72bd958ff6259fd36c981777cfe83753", 91362),
    ("professional_accounting", "fe5ee976a625832ecf624086103619523d063a3a728c60681b6a53c55b638a37", 126233),
    ("professional_law", "60a4308df4f481ff8840590b29061835207b50a9f06a9fc68baf12b114f7e2e0", 1902501),
    ("professional_medicine", "6fda30b523e4e2ce8b1f18e871a0722190a4ac81ec377a75fbba4a63e0b510f7", 219104),
    ("professional_psychology", "bfb3a7fb653e2b195d3fa258894af64d3f1c3dbd4059c1e0feb728131d20f9b3", 229411),
    ("public_relations", "2196279ea2535fbda62509c3156209b764459a3d515a9ba84b69cf16bb4c27d0", 29421),
    ("security_studies", "1354bb17649f95b7dd8ef3179e22329abe6bef84e639d63370ae9e80b2509905", 206239),
    ("sociology", "903ba6259b13f2877607abef22b7b19cb575104268d4ced615e3129d3caafb47", 67343),
    ("us_foreign_policy", "f1c1d266753a3f161e2018c16c6948fb78c7f5e506a10b4fc0441049962a6c69", 29024),
    ("virology", "d525f1ba88982befd42140e73822fe940e73db82bbdcdd569d95f26c3dd41e68", 39794),
    ("world_religions", "49dc00d44e069ecaac6a7f7e2188f4a8bce5df56ee91bb15f55519d07f64af8e", 26268),
)

_GSM8K = (GSM8K, "1f38ed03db354a020f71e92022383dc3cf37bbf2694dea4daaeea7b6c43fe57b", 1291062)
_MT_BENCH = (
    (MT_QUESTIONS, "119565adbab82227089cefdb44c8d7e2cf04dc0a0ec233634c82e7d4e2a944f7", 48929),
    (MT_JUDGEMENTS, "ffd1d44e7af835c810d35ebd420b88a47acd8aac850f46b149b9889964ae4478", 1417551),
)

_BOOL = {"True": 1.0, "False": 0.0}


def _remote(path: str, sha256: str, size: int) -> RemoteFile:
    return github_file(REPO, COMMIT, path, sha256, size)


def mmlu_path(subject: str) -> str:
    """Repository path of one MMLU subject's responses."""
    return f"{MMLU_DIR}/mmlu_{subject}.csv"


def subject_of(path: str) -> str:
    """``abstract_algebra`` from ``.../mmlu_abstract_algebra.csv``."""
    return path.rsplit("/", 1)[-1][len("mmlu_") : -len(".csv")]


# -- True/False CSVs ---------------------------------------------------------


def _records(path: Path) -> Iterator[tuple[int, int, list[str]]]:
    """(data row, line the record starts on, cells) per non-empty record; the header is row 0."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        last_line, row = 0, -1
        try:
            for cells in reader:
                # Prompts span several lines, so a record's line is not its row number.
                start, last_line = last_line + 1, reader.line_num
                if cells:
                    row += 1
                    yield row, start, cells
        except csv.Error as exc:
            raise DataError(f"is not valid CSV near line {reader.line_num} ({exc})", file=str(path)) from exc


def read_bool_csv(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """A prompt + True/False-per-model CSV -> (prompt texts, model names, N x M 0/1 values).

    Columns named ``prompt`` and ``<model>_response`` are not scores; every other
    column is one model's True/False judgement.
    """
    texts: list[str] = []
    rows: list[list[float]] = []
    header: list[str] = []
    prompt_col = -1
    score_cols: list[int] = []
    for row, line, cells in _records(path):
        if row == 0:
            header = cells
            if "prompt" not in header:
                raise DataError(
                    f"has no 'prompt' column in its header (line {line})", file=str(path), column="prompt"
                )
            dup = [c for c in dict.fromkeys(header) if header.count(c) > 1]
            if dup:
                raise DataError(
                    f"header (line {line}) names column {dup[0]!r} more than once", file=str(path), column=dup[0]
                )
            prompt_col = header.index("prompt")
            score_cols = [j for j, c in enumerate(header) if c != "prompt" and not c.endswith("_response")]
            continue
        where = f"data row {row} (the record starting on line {line} of the file)"
        if len(cells) != len(header):
            raise DataError(
                f"{where} has {len(cells)} cells, the header has {len(header)}", file=str(path), row=row
            )
        scores = []
        for j in score_cols:
            value = _BOOL.get(cells[j])
            if value is None:
                raise DataError(
                    f"{where}: {cells[j]!r} in column {header[j]!r} is not True or False",
                    file=str(path), row=row, column=header[j],
                )
            scores.append(value)
        texts.append(cells[prompt_col])
        rows.append(scores)
    if not header:
        raise DataError("is empty (no header line)", file=str(path))
    models = [header[j] for j in score_cols]
    values = np.array(rows, dtype=np.float32).reshape(len(rows), len(models))
    return texts, models, values


def _models_table(names: list[str]) -> pd.DataFrame:
    """Model names with the RouteLLM authors' prices ($ per 1M tokens, from ``prices/routellm.csv``)."""
    from routereval.sources.prices import shipped_prices

    prices = shipped_prices("routellm").set_index("model")
    return pd.DataFrame({
        "name": names,
        "input_price": [float(prices["input"].get(n, np.nan)) for n in names],
        "output_price": [float(prices["output"].get(n, np.nan)) for n in names],
        "n_params": [float(prices["n_params"].get(n, np.nan)) for n in names],
    })


def _response_tokens(path: Path, models: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Token counts (N x M) of the prompt and of each ``<model>_response`` cell; NaN where a model has none."""
    from routereval.sources.tokens import count_tokens

    prompts: list[str] = []
    replies: dict[str, list[str | None]] = {m: [] for m in models}
    header: list[str] = []
    for row, _, cells in _records(path):
        if row == 0:
            header = cells
            continue
        prompts.append(cells[header.index("prompt")])
        for m in models:
            col = f"{m}_response"
            replies[m].append(cells[header.index(col)] if col in header else None)
    n = len(prompts)
    input_tokens = np.repeat(count_tokens(prompts)[:, None], len(models), axis=1)
    output_tokens = np.column_stack([count_tokens(replies[m]) for m in models]) if models else np.zeros((n, 0))
    return input_tokens, output_tokens


def build_mmlu(local: dict[str, Path]) -> Benchmark:
    """Read the 57 MMLU subject files into one binary benchmark."""
    paths = sorted((f.path for f in MMLU_SPEC.files), key=subject_of)
    prompts: list[dict[str, Any]] = []
    blocks: list[np.ndarray] = []
    models: list[str] = []
    for path in paths:
        subject = subject_of(path)
        texts, names, values = read_bool_csv(local[path])
        if not models:
            models = names
        elif names != models:
            raise DataError(
                f"has model columns {names}, but {local[paths[0]]} has {models}", file=str(local[path])
            )
        prompts += [{"prompt_id": f"{subject}-{i}", "task": subject, "text": t} for i, t in enumerate(texts)]
        blocks.append(values)
    prov = provenance(MMLU_SPEC, local)
    prov["notes"] = []
    return Benchmark.from_values(
        MMLU_SPEC.name, np.vstack(blocks), pd.DataFrame(prompts), _models_table(models),
        kind=BINARY, provenance=prov,
    )


def build_gsm8k(local: dict[str, Path]) -> Benchmark:
    """Read the GSM8K test responses into one binary benchmark."""
    texts, models, values = read_bool_csv(local[GSM8K])
    prompts = pd.DataFrame(
        {"prompt_id": [f"gsm8k-{i}" for i in range(len(texts))], "task": "gsm8k", "text": texts}
    )
    input_tokens, output_tokens = _response_tokens(local[GSM8K], models)
    prov = provenance(GSM8K_SPEC, local)
    prov["notes"] = [
        "input_tokens / output_tokens: o200k_base counts of the prompt column and of each *_response column",
        "prices: the RouteLLM authors' cost per 1M tokens for both models (prices/routellm.csv)",
    ]
    return Benchmark.from_values(
        GSM8K_SPEC.name, values, prompts, _models_table(models), kind=BINARY, provenance=prov,
        input_tokens=input_tokens, output_tokens=output_tokens,
    )


# -- MT-Bench ----------------------------------------------------------------


def _read_questions(path: Path) -> dict[int, tuple[str, list[str]]]:
    questions: dict[int, tuple[str, list[str]]] = {}
    label = str(path)
    for line, q in json_objects(path):
        qid, turns = q.get("question_id"), q.get("turns")
        if not isinstance(qid, int) or isinstance(qid, bool):
            raise DataError(f"line {line}: question_id {qid!r} is not an integer",
                            file=label, row=line, column="question_id")
        if qid in questions:
            raise DataError(f"line {line}: question_id {qid} appears twice",
                            file=label, row=line, column="question_id")
        if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
            raise DataError(f"line {line}: 'turns' should be a non-empty list of strings",
                            file=label, row=line, column="turns")
        questions[qid] = (str(q.get("category") or "default"), turns)
    return questions


def _judge_score(raw: Any) -> float | None:
    """A 1..10 judge score -> (s - 1) / 9; None for -1, out-of-range or absent scores."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise TypeError(raw)
    if not 1 <= raw <= 10:
        return None
    return (float(raw) - 1.0) / 9.0


def build_mtbench(local: dict[str, Path]) -> Benchmark:
    """Read MT-Bench judgements into a continuous benchmark of 160 (question, turn) prompts."""
    questions = _read_questions(local[MT_QUESTIONS])
    rows: list[dict[str, Any]] = []
    row_of: dict[tuple[int, int], int] = {}
    for qid, (category, turns) in questions.items():
        for turn in range(1, len(turns) + 1):
            row_of[(qid, turn)] = len(rows)
            # The judged turn-2 answer was written with both user turns in view.
            text = "\n\n".join(turns[:turn])
            rows.append({"prompt_id": f"{qid}-t{turn}", "task": category, "text": text})

    judged: dict[tuple[int, int, str], int] = {}
    scores: list[tuple[int, str, float | None]] = []
    n_failed = 0
    label = str(local[MT_JUDGEMENTS])
    for line, j in json_objects(local[MT_JUDGEMENTS]):
        qid, turn, model = j.get("question_id"), j.get("turn"), j.get("model")
        if not isinstance(model, str):
            raise DataError(f"line {line}: 'model' should be a string", file=label, row=line, column="model")
        known = isinstance(qid, int) and isinstance(turn, int) and (qid, turn) in row_of
        if not known:
            raise DataError(
                f"line {line}: question {qid!r}, turn {turn!r} is not in {local[MT_QUESTIONS]}",
                file=label, row=line, column="question_id",
            )
        key = (qid, turn, model)
        if key in judged:
            raise DataError(
                f"line {line}: a second judgement for question {qid}, turn {turn}, model {model!r} "
                f"(the first is on line {judged[key]}); which one counts is ambiguous",
                file=label, row=line,
            )
        judged[key] = line
        try:
            value = _judge_score(j.get("score"))
        except TypeError:
            raise DataError(
                f"line {line}: score {j.get('score')!r} is not a number",
                file=label, row=line, column="score",
            ) from None
        n_failed += value is None
        scores.append((row_of[(qid, turn)], model, value))

    seen = list(dict.fromkeys(m for _, m, _ in scores))
    models = [m for m in PAIR if m in seen] + [m for m in seen if m not in PAIR]
    col = {m: j for j, m in enumerate(models)}
    values = np.full((len(rows), len(models)), np.nan, dtype=np.float32)
    for r, model, value in scores:
        if value is not None:
            values[r, col[model]] = value

    notes = ["judge score s in 1..10 stored as (s - 1) / 9"]
    if n_failed:
        notes.append(f"{n_failed} judgements with score -1 (judge failure) or outside 1..10: missing records")
    n_unjudged = len(rows) * len(models) - len(scores)
    if n_unjudged:
        notes.append(f"{n_unjudged} (prompt, model) pairs have no judgement: missing records")
    prov = provenance(MTBENCH_SPEC, local)
    prov["notes"] = notes
    return Benchmark.from_values(
        MTBENCH_SPEC.name, values, pd.DataFrame(rows), _models_table(models),
        kind=CONTINUOUS, provenance=prov,
    )


MMLU_SPEC = register(
    DatasetSpec(
        name="routellm-mmlu",
        description="RouteLLM MMLU: GPT-4 and Mixtral-8x7B correctness on 14,042 MMLU prompts, 57 subjects",
        license=LICENSE,
        homepage=HOMEPAGE,
        version=COMMIT,
        files=tuple(_remote(mmlu_path(s), sha, size) for s, sha, size in _MMLU),
        build=build_mmlu,
        n_prompts=14042,
        n_models=2,
    )
)

GSM8K_SPEC = register(
    DatasetSpec(
        name="routellm-gsm8k",
        description="RouteLLM GSM8K: GPT-4 and Mixtral-8x7B correctness on the 1,319 GSM8K test problems",
        license=LICENSE,
        homepage=HOMEPAGE,
        version=COMMIT,
        files=(_remote(*_GSM8K),),
        build=build_gsm8k,
        n_prompts=1319,
        n_models=2,
    )
)

MTBENCH_SPEC = register(
    DatasetSpec(
        name="routellm-mtbench",
        description=(
            "RouteLLM MT-Bench: GPT-4 and Mixtral-8x7B on 80 questions x 2 turns, GPT-4 judge "
            "scores 1-10 rescaled to [0, 1]"
        ),
        license=LICENSE,
        homepage=HOMEPAGE,
        version=COMMIT,
        files=tuple(_remote(*f) for f in _MT_BENCH),
        build=build_mtbench,
        n_prompts=160,
        n_models=2,
    )
)
