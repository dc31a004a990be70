"""Prompt vectors for model choice, and why TF-IDF is fitted on every task's text.

MiniLM (the default) is a fixed function of the text: vectors come from the
on-disk cache, so a second run embeds nothing.

TF-IDF learns its vocabulary from a corpus. Here it is fitted **once, on the
text of every task, the held-out one included** (and on the user's new prompts
with ``--new-task``). That is not a leak in this setting: the problem gives the
new task's prompts, unlabelled, before any choice is made, and TF-IDF reads
text only, never a correctness label. Fitting per fold would cost one fit per
task, and one per pair of tasks for the reference pairs, for no gain in
honesty. The fitted vectors are not cached, since each fit names a new encoder
and would leave a dataset-sized folder in the cache for every prompt file.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from routereval.errors import ConfigError
from routereval.records import Benchmark
from routereval.selection.data import TaskData

# Model choice reproduces a published protocol, so it embeds with the fp32 path (cosine >= 0.9999 to
# sentence-transformers, the authors' encoder) rather than the faster default minilm-int8 (>= 0.99):
# choosing per task is discrete, and int8's small differences flip a few tasks (on llmrouter with
# --references published, S3 moved from the authors' 0.6145 to 0.627; minilm-onnx gives 0.614).
SELECTION_ENCODER = "minilm-onnx"


def _encode_texts(encoder, texts: Sequence[str | None]) -> np.ndarray:
    """Vectors of ``texts`` straight from the encoder; prompts without text get a zero vector."""
    from routereval.encoders.base import is_missing_text

    out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    present = [i for i, t in enumerate(texts) if not is_missing_text(t)]
    if present:
        out[present] = encoder.encode([texts[i] for i in present], progress=False)
    return out


def attach_vectors(
    data: TaskData,
    bench: Benchmark,
    encoder: str = SELECTION_ENCODER,
    *,
    new_texts: Sequence[str] | None = None,
    progress: bool = True,
) -> np.ndarray | None:
    """Set ``data.vectors`` (unit rows) under ``encoder``; return the vectors of ``new_texts`` if given.

    ``encoder`` is a MiniLM path (by default :data:`SELECTION_ENCODER`), ``tfidf`` / ``tfidf-<dim>`` or ``precomputed:<key>``
    (vectors shipped with the dataset; these cannot embed new prompts).
    """
    from routereval.encoders import embed_prompts, embed_texts, get_encoder

    if encoder.startswith("precomputed:"):
        if new_texts is not None:
            raise ConfigError(
                f"{encoder!r} vectors come with the dataset and cannot embed new prompts; "
                "use --encoder minilm or tfidf with --new-task"
            )
        enc = get_encoder(encoder, benchmark=bench)
        data.vectors = embed_prompts(bench, enc, data.rows, progress=progress)
        return None
    enc = get_encoder(encoder)
    if hasattr(enc, "fit"):
        corpus = [t for t in data.texts if isinstance(t, str) and t.strip()]
        corpus += [t for t in (new_texts or []) if t.strip()]
        enc.fit(corpus)
        data.vectors = _encode_texts(enc, data.texts)
        return None if new_texts is None else _encode_texts(enc, list(new_texts))
    data.vectors = embed_prompts(bench, enc, data.rows, progress=progress, on_empty="zero")
    if new_texts is None:
        return None
    return embed_texts(list(new_texts), enc, progress=progress, on_empty="zero")
