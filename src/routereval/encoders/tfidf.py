"""TF-IDF + truncated SVD (latent semantic analysis): a light encoder with no torch.

Unlike a pretrained model it learns its vocabulary, term weights and axes from
a corpus, so it must be :meth:`~TfidfEncoder.fit` before it encodes anything.

Which corpus to fit on: **the training prompts only** (for a RouterEval router
dataset, the train split of the benchmark; for leave-one-task-out model choice,
the prompts of the training tasks). A deployed router meets its test prompts
one at a time, after training; fitting on them would let the test distribution
shape the features, a mild leak that makes reported numbers look better than a
deployment could reach. Validation and test prompts are only transformed: words
never seen in training contribute nothing, and a prompt made only of such words
gets a zero vector (cosine 0 with everything).

:attr:`~TfidfEncoder.name` contains the width and a fingerprint of the fitted
corpus and settings, so vectors cached for one fit are never served for another.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from routereval.encoders.base import Encoder, check_texts
from routereval.errors import ConfigError, NotFittedError


class TfidfEncoder(Encoder):
    """TF-IDF over word uni- and bigrams, reduced to ``dim`` axes by truncated SVD.

    Args:
        dim: output width (SVD components); must be below the fitted vocabulary
            size and at most the number of fitted texts.
        ngram_range: word n-gram sizes counted.
        min_df: ignore terms found in fewer fitted texts than this.
        max_features: keep at most this many terms (the most frequent).
        sublinear_tf: use 1 + log(tf) so a repeated word does not dominate.
        seed: seed of the randomised SVD.
        n_threads: BLAS threads during the SVD. 1 by default: multi-threaded
            OpenBLAS slows down many-fold when other processes share the CPUs
            (4-6x slower than one thread on a busy 2-CPU machine, while two
            threads gain well under 2x on an idle one). ``None`` leaves the
            library's setting. Part of the fingerprint: the randomised SVD
            amplifies the rounding differences between thread counts (to about
            2e-4 per coordinate), and cached vectors should come from the same
            computation. Other BLAS builds differ by as much.

    Learned state (after :meth:`fit`): ``vectorizer_``, ``svd_``,
    ``fingerprint_``, ``n_fit_texts_``.
    """

    def __init__(
        self,
        dim: int = 256,
        *,
        ngram_range: tuple[int, int] = (1, 2),
        min_df: int = 1,
        max_features: int | None = 50_000,
        sublinear_tf: bool = True,
        seed: int = 0,
        n_threads: int | None = 1,
    ) -> None:
        if dim < 1:
            raise ValueError(f"dim must be at least 1, got {dim}")
        self._dim = dim
        self.ngram_range = tuple(ngram_range)
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.seed = seed
        self.n_threads = n_threads

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "fingerprint_")

    @property
    def name(self) -> str:
        if not self.is_fitted:
            raise NotFittedError("the tfidf encoder", "it has no name until then: call fit(training_prompts) first")
        return f"tfidf-{self.dim}-{self.fingerprint_[:16]}"

    def _settings(self) -> dict[str, Any]:
        import sklearn

        # The library version is part of the fingerprint: another release may
        # tokenise or decompose differently, and then cached vectors would lie.
        return {
            "dim": self.dim,
            "ngram_range": list(self.ngram_range),
            "min_df": self.min_df,
            "max_features": self.max_features,
            "sublinear_tf": self.sublinear_tf,
            "seed": self.seed,
            "n_threads": self.n_threads,
            "sklearn": sklearn.__version__,
        }

    def fit(self, texts: Sequence[str]) -> TfidfEncoder:
        """Learn vocabulary, IDF weights and SVD axes from ``texts``; returns ``self``."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = check_texts(texts)
        vectorizer = TfidfVectorizer(
            ngram_range=self.ngram_range,
            min_df=self.min_df,
            max_features=self.max_features,
            sublinear_tf=self.sublinear_tf,
            strip_accents="unicode",
            dtype=np.float32,
        )
        try:
            counts = vectorizer.fit_transform(texts)
        except ValueError as exc:  # e.g. every text is stop words or punctuation
            raise ConfigError(f"cannot fit tfidf on these {len(texts)} texts: {exc}") from exc
        n_terms = counts.shape[1]
        if self.dim >= n_terms or self.dim > len(texts):
            raise ConfigError(
                f"tfidf dim={self.dim} needs more than {self.dim} distinct terms and at least {self.dim} "
                f"texts to fit on; this corpus has {n_terms} terms in {len(texts)} texts: choose a smaller "
                f"dim, e.g. --encoder tfidf-{max(2, min(n_terms - 1, len(texts)) // 2)}"
            )
        svd = TruncatedSVD(n_components=self.dim, algorithm="randomized", n_iter=5, random_state=self.seed)
        if self.n_threads is None:
            svd.fit(counts)
        else:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=self.n_threads, user_api="blas"):
                svd.fit(counts)

        digest = hashlib.sha256(json.dumps(self._settings(), sort_keys=True).encode())
        for text in texts:
            # Hash each text separately so that ["ab", "c"] and ["a", "bc"] differ.
            digest.update(hashlib.sha256(text.encode("utf-8")).digest())
        # The weights go through the setter a saved encoder is rebuilt with (deploy/encoder_state.py):
        # scikit-learn before 1.5 stores them as float64 there, so without this a reloaded encoder
        # would give vectors a rounding apart from the one that was saved.
        vectorizer.idf_ = vectorizer.idf_
        self.vectorizer_ = vectorizer
        self.svd_ = svd
        self.n_fit_texts_ = len(texts)
        self.fingerprint_ = digest.hexdigest()
        return self

    def _encode(self, texts: list[str], *, progress: bool) -> np.ndarray:
        if not self.is_fitted:
            raise NotFittedError("the tfidf encoder", "call fit(training_prompts) before it encodes")
        return self.svd_.transform(self.vectorizer_.transform(texts))

    def __repr__(self) -> str:
        state = f"fitted on {self.n_fit_texts_} texts" if self.is_fitted else "not fitted"
        return f"TfidfEncoder(dim={self.dim}, {state})"
