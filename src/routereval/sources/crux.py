"""CRUXEval-O answered by 48 LLMs (yuchenlin/ZeroEval, Apache-2.0), with token counts and prices.

Each ``result_dirs/crux/<model>.json`` is a JSON list of 800 problems: ``id``,
``question``, ``answer`` (the reference output literal), ``chat_history``
(the prompt as sent), ``output`` (a one-element list holding the reply).
Correctness is not stored; :func:`is_correct` applies the upstream
evaluation's rule (``src/evaluation/crux_eval.py``) as it stood when the
pinned ``crux.summary.json`` was written (upstream commit 39430d4,
2024-09-20):

1. the answer is the ``answer`` field of the first complete ``{...}`` object
   in the reply (braces counted, newlines removed, parsed as JSON; if that
   object does not parse, this step finds nothing);
2. failing that, the first ``"answer": "..."`` in the text, else
   ``"answer": value`` or ``answer: value`` with the value running to the
   next comma or white space;
3. failing that, for Llama-3.1 files only, ``\\boxed{...}`` near the end;
4. no answer is wrong. Otherwise both sides become text (Python ``str`` of
   the parsed value) without surrounding quotes; correct when both are
   non-empty and equal.

Two later upstream commits (f37c3f9 and e200bab, 2024-09-22) count two empty
answers as equal and write the model's newlines as ``\\n`` before comparing;
they raise accuracies by up to 2.5 points but the summary in the pinned
commit predates them. ``is_correct(..., revised=True)`` applies them; the
dataset uses the rule that matches the published summary (exactly, for all
48 models).

Model names follow ``crux.summary.json`` (upstream renames two files, e.g.
``Llama-3.1-405B-Inst-fp8`` is ``Llama-3.1-405B-Inst-fp8@together``); each
model's accuracy under this rule matches that summary (tests check it).

Per record the benchmark also keeps token counts (:mod:`routereval.sources.tokens`):
input = the prompt as sent, output = the visible reply. Prices come from the
shipped table ``prices/crux.csv`` (provider list prices with source and date;
open models at a named host; models without a public price have none).
o1's billed output includes hidden reasoning tokens that the replies do not
show, so its costs here are lower bounds.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from routereval.errors import DataError
from routereval.records.benchmark import BINARY, Benchmark
from routereval.sources.prices import shipped_prices
from routereval.sources.registry import DatasetSpec, github_file, provenance, register
from routereval.sources.tokens import DEFAULT_ENCODING, count_tokens

REPO = "yuchenlin/ZeroEval"
COMMIT = "570c6269a2e4930ee06a17e713fece1ba52cf1dd"
SUMMARY = "result_dirs/crux.summary.json"

# (file stem, sha256, size in bytes) of result_dirs/crux/<stem>.json
_MODELS = (
    ("Athene-70B", "a9d8c94e9c18325f27685368859188b3610cb81a9f9856e2c1deb030f69d1a2f", 2560281),
    ("Llama-3.1-405B-Inst-fp8", "df7e53a852869dd170ed4cb797c1d15d67ea47804e37ab01ead644590d06fb72", 2339820),
    ("Llama-3.1-405B-Inst@sambanova", "85267cc415ce70b2ba2ac15b13fa114d381014d730882a95c09ef0ae610cc3e5", 2059595),
    ("Meta-Llama-3-70B-Instruct", "ab26c3c16e10b9c949a628ba540fc18d3a996cba0a6413357632f5c9d55693db", 2689175),
    ("Meta-Llama-3-8B-Instruct", "18d047641a5a471fd561f7229d17b9fda24ed3ca321144912fe92c6c16cda525", 2702613),
    ("Meta-Llama-3.1-405B-Instruct@hyperbolic", "e216a892a5fac76579904c0149347958d508f78726022ef1defdb8bfdb4b82af", 2282652),
    ("Meta-Llama-3.1-70B-Instruct", "86555ee77388dea2667b9ffe07967605ff59005062c7e054196971116164e5c0", 2891142),
    ("Meta-Llama-3.1-8B-Instruct", "97ea83662e316652e4b3cdab721cf198a29af684d29f86b83a87a16bd6788139", 2921606),
    ("Mistral-Large-2", "72eb0263635697c0a82dc652ddd232793cadc267dcbabc88d7fe55dcacc5cdc6", 1952667),
    ("Mixtral-8x7B-Instruct-v0.1", "81d94e6307d297546ed3b632e26e1675db54050b58142c1b3d49c75b29336b84", 2687708),
    ("Phi-3-mini-4k-instruct", "26e069d567b78e703cfa76a34a21b7a38c581e2fa318338038e7f881cd6ff4a8", 2795260),
    ("Phi-3.5-mini-instruct", "16e3663f08bea9769df8f708a243d90db98bf7a0eba1bd1e6a96a7c4340750ad", 2872018),
    ("Qwen2-72B-Instruct", "3721fb628707630ecf0ad5f5e903a1482fc1e123af3b0509389a89e337fffeb0", 2686133),
    ("Qwen2-7B-Instruct", "1655e3377d337ccb284dca107a7525e66839274f58b4951e358c483505970fd2", 2623014),
    ("Qwen2.5-32B-Instruct", "3abadf0c92caa82522c2bc24c3564dcaf730a9a7e54fda02997912d27c5e0883", 2831850),
    ("Qwen2.5-3B-Instruct", "bbbf655a14e0835cffe77d1df1505836299636bfc54a6dc5fb1c663fb4ac0467", 2937265),
    ("Qwen2.5-72B-Instruct", "eb8b14bea9fb098709bc64706ba98064cbe96ff9d34698eeb47b81d96cd1653f", 2798729),
    ("Qwen2.5-7B-Instruct", "b427536f4320c93f6cb35b1218739038ae3bb51572a3e61e75ccf4f996878606", 2847726),
    ("Yi-1.5-34B-Chat", "d6252297a720bb6ca854ffe667a320149e5b95515d29fc782a22420d6d6e106e", 2768826),
    ("Yi-1.5-9B-Chat", "3d7192630d305c91575008e1db400bba91b61af70ebbbcb5218bc1b4761198f7", 2888096),
    ("chatgpt-4o-latest-24-09-07", "c0a5509ab3ed5baabeea4be122fac9d36b300da112adcc1ab9dba4490b8c6228", 2119326),
    ("claude-3-5-sonnet-20240620", "80e720519776ac159da53bcdd3e61b9d2452c2fb56932c4b8d331cd03cb0ea31", 2128936),
    ("claude-3-haiku-20240307", "e929a1953c12c057224da4ac28c3f87e608cf57d22cb29f75598bbb7ee28821f", 2224857),
    ("claude-3-opus-20240229", "9df4dfb209191216d0d9b2eb01f73b18741a5a27a5ce5f7af477f7c77519a103", 2039650),
    ("claude-3-sonnet-20240229", "cbb8ad34ab35290f55335f007fc0fa8e4d3471ca817717b1c22d80176c8d87d9", 2202312),
    ("deepseek-v2-chat-0628", "b2ab79453b5a0ca945b4c8c4b6484b7bd731c7e8d4f6c7fb888ab5ffb490e36a", 2012286),
    ("deepseek-v2-coder-0724", "d88094464ad8324d76012e180942ebdca8b6709765b03273499e3231bda21185", 2009076),
    ("deepseek-v2.5-0908", "89d756f4b78bc647173bf931656f6b5976d436dc9017d5df5106f07db218c0f4", 1983582),
    ("gemini-1.5-flash-exp-0827", "3b62830f4c055871f6e35b2ee17e1c388f375cd1e5d3141508108dda840a7c14", 2136194),
    ("gemini-1.5-flash", "48ba3b61999869717bbe25ea5b8d54cb8df1291d981c236787919c315d2094ba", 1981079),
    ("gemini-1.5-pro-exp-0801", "387f77dc0a66bc2f61aadb6ca2b2b06e6acae79f6dfcbe1cd45d2f72eb0c5e1e", 1938049),
    ("gemini-1.5-pro-exp-0827", "a95afe7ae31b06d08b491ec89cb5899021d5078580370fafd1e32accf2865bbb", 2051605),
    ("gemini-1.5-pro", "87cd836015d46f5f5298f20042bea7599a6d585954c4c277f495a5b6380c5141", 1872813),
    ("gemma-2-27b-it", "440736bd2e73f8673d47d10cc76f060f5b49676531cee3a7df052453c461484d", 1908297),
    ("gemma-2-2b-it", "4fddf1b25581215de31e03c9436bd3337283cc5522acd5a3bc0f7479d3bb5902", 2581132),
    ("gemma-2-9b-it", "8dc654c65add34609b3dbb2c6be9170bd7b2bc68163de0ba80f80c86834dccb3", 1978543),
    ("gpt-3.5-turbo-0125", "5e8e595c29e412073c1a40f26de1c12a44945c4c399ee557021ce828767ee674", 1890488),
    ("gpt-4-0314", "06d34c8a8b5576d725789ac9c81712adcc9790d63282edbc599fff5572ba3149", 1880833),
    ("gpt-4-turbo-2024-04-09", "b88646cd4e00961dbccab4c39f7c7f5692593a026cf49a376c560defa9fea872", 2022564),
    ("gpt-4o-2024-05-13", "b96957e36d367d03879762f753477ced1e146d99edfcd608d7494551131aa79c", 2077039),
    ("gpt-4o-2024-08-06", "d7cfee3540a76747818445778b281d79472a6cde681af328a6df0832fa3e322f", 2184094),
    ("gpt-4o-mini-2024-07-18", "41e3446c313185e7bdba7a7b993fb2d365019e9255e887cb916031edc1d0692b", 2318690),
    ("o1-mini-2024-09-12", "913c446da0f6cdd2766782fa5c13cfb401a59c18b09a07b2f965fb645b989725", 1954818),
    ("o1-preview-2024-09-12", "42fadfd304a23833dabfd766365a8b65c29a34373edc1e5269c2637c577f65f3", 1980608),
    ("reka-core-20240501", "6fc25e6f9f4fd71f168ab9713628709b55469b9810714fb4c7ba03088cc16077", 2108301),
    ("reka-flash-20240226", "891670e013a095b4e6aeb0f385fc56d3f18a0fed984cd8a7a859a0e6e5b3302a", 2052113),
    ("yi-large-preview", "0e7148ca81288330141f6727c2c810ea9757e63b401c3b393464a3620fbd5077", 2448738),
    ("yi-large", "adaec686daefc707ba50e50e43cc0eddab2d9db405bdbf191c21a03b09d47f3a", 2076289),
)
_SUMMARY = (SUMMARY, "3ba54ce4683f0c155bd316945e9205e4c8d6e60672a3a7e5551e2dd4e28ad981", 7632)

# Upstream's display names for files whose stem differs (its model_name_replacement).
_RENAMED = {
    "Llama-3.1-405B-Inst-fp8": "Llama-3.1-405B-Inst-fp8@together",
    "Meta-Llama-3.1-405B-Instruct@hyperbolic": "Llama-3.1-405B-Inst@hyperbolic",
}


def model_path(stem: str) -> str:
    """Repository path of a model's result file."""
    return f"result_dirs/crux/{stem}.json"


def display_name(stem: str) -> str:
    """The name ``crux.summary.json`` uses for the model of a result file."""
    return _RENAMED.get(stem, stem)


# -- the correctness rule -----------------------------------------------------------------


def _first_object(reply: str) -> Any:
    """The first balanced ``{...}`` span parsed as JSON with newlines removed; None if absent or unparseable."""
    depth, start = 0, None
    for i, ch in enumerate(reply):
        if ch == "{":
            if start is None:
                start = i
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
            if depth == 0:
                try:
                    return json.loads(reply[start : i + 1].replace("\n", ""))
                except json.JSONDecodeError:
                    return None
    return None


_QUOTED = re.compile(r'"answer"\s*:\s*"([^"]*?)"')
_BARE = re.compile(r'"answer"\s*:\s*([^,\s]*)')
_UNQUOTED_KEY = re.compile(r'answer\s*:\s*([^,\s]*)')
_BOXED = re.compile(r"\\boxed{([\w\d]+)}")


def _answer_by_pattern(reply: str) -> str | None:
    for pattern in (_QUOTED, _BARE, _UNQUOTED_KEY):
        found = pattern.search(reply)
        if found:
            return found.group(1)
    return None


def extract_answer(reply: str, stem: str) -> tuple[bool, Any]:
    """(found, answer) for a reply, by the upstream rule (steps 1 to 3 of the module docstring)."""
    parsed = _first_object(reply)
    if isinstance(parsed, dict) and "answer" in parsed:
        return True, parsed["answer"]
    answer = _answer_by_pattern(reply)
    if answer is not None:
        return True, answer
    if "Llama-3.1" in stem and "boxed" in reply[-30:]:
        boxed = _BOXED.search(reply)
        if boxed and boxed.group(1):
            return True, boxed.group(1)
    return False, None


def is_correct(reply: str, reference: Any, stem: str, *, revised: bool = False) -> bool:
    """Whether a reply answers a problem correctly under the upstream rule (step 4).

    ``revised`` applies upstream's two later changes (empty answers equal,
    newlines written as ``\\n``), which the published summary predates.
    """
    found, answer = extract_answer(reply, stem)
    if not found:
        return False
    given = str(answer).strip("'\"")
    expected = str(reference).strip("'\"")
    if revised:
        given = given.replace("\n", "\\n")
        return given == expected
    return bool(given) and given == expected


# -- reading ------------------------------------------------------------------------------


def _read_results(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"is not valid JSON ({exc})", file=str(path)) from exc
    if not isinstance(data, list):
        raise DataError(f"should hold a JSON list of problems, got {type(data).__name__}", file=str(path))
    for entry, item in enumerate(data, start=1):
        ok = (isinstance(item, dict) and isinstance(item.get("id"), str) and "answer" in item
              and isinstance(item.get("output"), list) and item["output"] and isinstance(item["output"][0], str))
        if not ok:
            raise DataError(
                f"entry {entry} of the JSON list (1-based) is not a problem with an 'id', an 'answer' and an "
                "'output' list holding the reply", file=str(path), row=entry,
            )
    return data


def _prompt_text(item: dict[str, Any]) -> str:
    """The prompt as sent (the first chat turn), else the bare question."""
    history = item.get("chat_history")
    if isinstance(history, list) and history and isinstance(history[0], str):
        return history[0]
    return str(item.get("question", ""))


def build(local: dict[str, Path]) -> Benchmark:
    """Score every model's replies by the upstream rule; count tokens; attach the shipped prices."""
    stems = [stem for stem, _, _ in _MODELS if model_path(stem) in local]
    names = [display_name(s) for s in stems]
    ids: list[str] = []
    row_of: dict[str, int] = {}
    questions: list[str] = []
    references: list[str] = []
    prompts_sent: list[str] = []
    per_model = []
    for stem in stems:
        path = local[model_path(stem)]
        data = _read_results(path)
        for item in data:
            if item["id"] not in row_of:
                row_of[item["id"]] = len(ids)
                ids.append(item["id"])
                questions.append(str(item.get("question", "")))
                references.append(str(item["answer"]))
                prompts_sent.append(_prompt_text(item))
        per_model.append(data)

    values = np.full((len(ids), len(stems)), np.nan, dtype=np.float32)
    input_tokens = np.full_like(values, np.nan)
    output_tokens = np.full_like(values, np.nan)
    prompt_counts = {}
    for j, (stem, data) in enumerate(zip(stems, per_model)):
        rows = np.array([row_of[item["id"]] for item in data], dtype=np.int64)
        replies = [item["output"][0] for item in data]
        values[rows, j] = [is_correct(r, item["answer"], stem) for r, item in zip(replies, data)]
        sent = [_prompt_text(item) for item in data]
        for text in sent:
            if text not in prompt_counts:
                prompt_counts[text] = float(count_tokens([text])[0])
        input_tokens[rows, j] = [prompt_counts[t] for t in sent]
        output_tokens[rows, j] = count_tokens(replies)

    prices = shipped_prices("crux").set_index("model")
    models = pd.DataFrame({"name": names})
    for col, src in (("input_price", "input"), ("output_price", "output"), ("n_params", "n_params")):
        models[col] = [float(prices[src].get(n, np.nan)) for n in names]
    unpriced = [n for n in names if np.isnan(prices["input"].get(n, np.nan))]
    prompts = pd.DataFrame({"prompt_id": ids, "task": "crux-o", "text": questions, "reference": references})

    notes = [
        "correct = the upstream rule of src/evaluation/crux_eval.py (as of the published summary) applied "
        "to each reply; replies with no extractable answer are wrong",
        f"input_tokens / output_tokens: {DEFAULT_ENCODING} counts of the prompt as sent and of the visible reply",
        "prices: provider list prices from the shipped table prices/crux.csv (source and date per model)",
        "o1 models bill hidden reasoning tokens as output: their costs here are lower bounds",
    ]
    if unpriced:
        notes.append(f"no public price (costs unknown, compute cost only where n_params is known): "
                     f"{', '.join(unpriced)}")
    n_missing = int(np.isnan(values).sum())
    if n_missing:
        notes.append(f"{n_missing} (problem, model) pairs absent from the result files: missing records")
    prov = provenance(SPEC, local)
    prov["notes"] = notes
    return Benchmark.from_values(
        SPEC.name, values, prompts, models, kind=BINARY, provenance=prov,
        input_tokens=input_tokens, output_tokens=output_tokens,
    )


def read_summary(path: Path) -> dict[str, float]:
    """Upstream's accuracy per model from ``crux.summary.json``, as a fraction."""
    try:
        rows = json.loads(Path(path).read_text(encoding="utf-8"))
        return {str(r["Model"]): float(r["Acc"]) / 100.0 for r in rows}
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as exc:
        raise DataError(f"is not a crux summary (a list of {{Model, Acc}}): {exc}", file=str(path)) from exc


SPEC = register(
    DatasetSpec(
        name="crux",
        description=(
            "CRUXEval-O: 800 Python output-prediction problems answered by 48 LLMs (o1, GPT-4o, Claude 3.5, "
            "Llama 3.1 8B-405B, Qwen 2.5, Gemma 2, ...), with token counts and list prices"
        ),
        license="Apache-2.0",
        homepage=f"https://github.com/{REPO}",
        version=COMMIT,
        files=tuple(github_file(REPO, COMMIT, model_path(s), sha, size) for s, sha, size in _MODELS)
        + (github_file(REPO, COMMIT, *_SUMMARY),),
        build=build,
        n_prompts=800,
        n_models=48,
    )
)
