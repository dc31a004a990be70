"""The encoder part of an artifact: its name and settings, and a fitted TF-IDF's state as arrays.

A pretrained encoder (MiniLM) is saved as its name and settings; it is
rebuilt from the installed package. A TF-IDF encoder learns from its corpus,
so its vocabulary, IDF weights and SVD axes are written as arrays and its
scikit-learn objects rebuilt from them on load (never pickled). Vectors that
ship with a dataset (``precomputed:<key>``) cannot embed a new prompt and are
refused when an artifact is made.

The tokeniser is not taken from the file: the manifest's schema accepts only
the settings routereval writes, and :func:`rebuild` builds the vectorizer from
its own constants plus the few numeric settings (n-gram sizes of 1 to 3), so no
file can hand scikit-learn a regular expression or an analyzer to run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from routereval.errors import ConfigError, DataError

#: TfidfVectorizer settings written to the manifest; other settings keep their defaults.
_VECTORIZER_KEYS = (
    "analyzer", "binary", "lowercase", "max_df", "max_features", "min_df", "ngram_range", "norm",
    "smooth_idf", "strip_accents", "sublinear_tf", "token_pattern", "use_idf",
)


def encoder_kind(encoder: Any) -> str:
    """``minilm`` (any MiniLM path, or its static table) or ``tfidf``: which family an encoder object belongs to (others are refused)."""
    from routereval.encoders import MiniLMEncoder, OnnxMiniLMEncoder, TfidfEncoder
    from routereval.encoders.static import StaticMiniLMEncoder

    if isinstance(encoder, TfidfEncoder):
        return "tfidf"
    if isinstance(encoder, (MiniLMEncoder, OnnxMiniLMEncoder, StaticMiniLMEncoder)):
        return "minilm"
    name = getattr(encoder, "name", type(encoder).__name__)
    raise ConfigError(
        f"encoder {name!r} cannot be saved in a routing artifact: it cannot embed a new prompt from its text "
        "(vectors shipped with a dataset) or is not a built-in encoder; train with --encoder minilm or tfidf"
    )


def describe(encoder: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(manifest entry, arrays)`` for an encoder."""
    kind = encoder_kind(encoder)
    if kind == "minilm":
        # The path (sentence-transformers, ONNX fp32 or int8, the static table) is recorded, so serving embeds
        # as training did; the static table is rebuilt from the installed model (its name carries no setting).
        from routereval.encoders.registry import STATIC_ENCODER

        name = STATIC_ENCODER if encoder.name.startswith(STATIC_ENCODER) else encoder.name
        return {"kind": "minilm", "name": name, "dim": encoder.dim,
                "settings": {"max_seq_length": getattr(encoder, "max_seq_length", None)}}, {}
    if not encoder.is_fitted:
        raise ConfigError("the tfidf encoder must be fitted before it is saved")
    vec = encoder.vectorizer_
    params = vec.get_params()
    settings = {k: (list(params[k]) if isinstance(params[k], tuple) else params[k]) for k in _VECTORIZER_KEYS}
    vocabulary = vec.vocabulary_
    terms = sorted(vocabulary, key=vocabulary.get)
    if any("\n" in t for t in terms):
        raise ConfigError("a tfidf term contains a line break; such a vocabulary cannot be saved")
    # One UTF-8 buffer, terms separated by line breaks: a fixed-width string array would pad every term.
    arrays = {"terms": np.frombuffer("\n".join(terms).encode("utf-8"), dtype=np.uint8),
              "idf": np.asarray(vec.idf_), "components": np.asarray(encoder.svd_.components_)}
    entry = {
        "kind": "tfidf", "name": encoder.name, "dim": encoder.dim, "fingerprint": encoder.fingerprint_,
        "n_fit_texts": int(encoder.n_fit_texts_), "vectorizer": settings,
        "settings": {"ngram_range": list(encoder.ngram_range), "min_df": encoder.min_df,
                     "max_features": encoder.max_features, "sublinear_tf": encoder.sublinear_tf,
                     "seed": encoder.seed, "n_threads": encoder.n_threads},
    }
    return entry, arrays


def rebuild(entry: dict[str, Any], arrays: Any) -> Any:
    """The encoder an artifact describes, ready to encode (MiniLM loads lazily on first use)."""
    from routereval.encoders import get_encoder

    from routereval.encoders.registry import MINILM_PATHS, STATIC_ENCODER

    kind = entry.get("kind")
    if kind == "minilm":
        name = entry.get("name", "minilm")
        if name not in ("minilm", *MINILM_PATHS, STATIC_ENCODER):
            raise DataError(f"unknown MiniLM path {name!r} in the manifest; known: "
                            f"{', '.join((*MINILM_PATHS, STATIC_ENCODER))}")
        max_len = entry.get("settings", {}).get("max_seq_length")
        return get_encoder(name, **({"max_seq_length": int(max_len)} if max_len is not None else {}))
    if kind != "tfidf":
        raise DataError(f"unknown encoder kind {kind!r} in the manifest")
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    settings = dict(entry["settings"])
    settings["ngram_range"] = tuple(settings["ngram_range"])
    encoder = get_encoder("tfidf", dim=int(entry["dim"]), **settings)
    vectorizer_settings = entry["vectorizer"]
    params = {k: vectorizer_settings[k] for k in ("max_features", "min_df", "sublinear_tf")}
    params["ngram_range"] = tuple(vectorizer_settings["ngram_range"])
    try:
        terms = arrays["terms"].tobytes().decode("utf-8").split("\n")
    except UnicodeDecodeError as exc:
        raise DataError(f"the tfidf vocabulary is not UTF-8 (byte {exc.start})") from None
    idf, components = arrays["idf"], arrays["components"]
    if len(terms) != len(idf) or len(set(terms)) != len(terms) or "" in terms:
        raise DataError(f"the tfidf vocabulary holds {len(terms)} terms ({len(set(terms))} distinct, empty ones "
                        f"refused) for {len(idf)} IDF weights")
    # With smooth_idf, idf = 1 + log((1 + n) / (1 + df)) >= 1.
    if not np.isfinite(idf).all() or idf.min() < 1.0 or not np.isfinite(components).all():
        raise DataError("the tfidf IDF weights or axes hold values no fit produces (non-finite, or an IDF below 1)")
    if components.shape != (int(entry["dim"]), len(terms)):
        raise DataError(f"tfidf axes have shape {components.shape}, expected ({entry['dim']}, {len(terms)})")
    # The fixed settings: what TfidfEncoder.fit uses; the schema refuses any other value in the manifest.
    vectorizer = TfidfVectorizer(vocabulary={t: i for i, t in enumerate(terms)}, dtype=np.float32,
                                 strip_accents="unicode", **params)
    vectorizer.idf_ = idf
    svd = TruncatedSVD(n_components=int(entry["dim"]))
    # Column-major, so that components_.T (what transform multiplies by) is row-major: scipy's sparse
    # product copies a non-contiguous right-hand side on every call (tens of ms for one prompt).
    svd.components_ = np.asfortranarray(components)
    encoder.vectorizer_, encoder.svd_ = vectorizer, svd
    encoder.n_fit_texts_ = int(entry["n_fit_texts"])
    encoder.fingerprint_ = str(entry["fingerprint"])
    return encoder
