"""The manifest of a routing artifact: the schema of its fields, and the checksum rule of its version 2.

The envelope (``format``, ``format_version``, ``files``, ``manifest_sha256``)
is the one of every routereval folder with checksums (:mod:`routereval.manifests`).
A manifest is machine-written (``RoutingModel.save``), so everything in it is
known in advance: every field has a type and a range, unknown keys are
refused, and nothing in it can make loading or routing unbounded (the TF-IDF
tokeniser is fixed, array sizes are declared and capped). Its checksum is not
a signature, which is why the fields are checked too. Version 2, still read,
recorded each file's sha256 alone and its own checksum as ``checksum``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from routereval.manifests import seal

FORMAT = "routereval-router"
#: 3: the common manifest format (routereval.manifests); 2, still read, recorded only each file's sha256.
FORMAT_VERSION = 3
MANIFEST = "manifest.json"
ROUTER_WEIGHTS = "router.npz"
ENCODER_WEIGHTS = "encoder.npz"
#: The member of router.npz that repeats the candidate names (UTF-8, one per line) to bind their order to the state.
CANDIDATES_MEMBER = "candidates"

#: A manifest is a few kB to a few MB (the state layout is JSON; the arrays are in .npz files).
MAX_MANIFEST_BYTES = 8 * 2**20
#: JSON nesting a manifest may use (a router inside an ensemble inside a safe router is about 12 deep).
MAX_DEPTH = 48
MAX_CANDIDATES = 1000
MAX_NAME = 200
#: $ per 1M tokens. The dearest public price lists stay under $1,000; a price above this is a typo or damage.
MAX_PRICE = 10_000.0
MAX_OUTPUT_TOKENS = 1_000_000
#: Uncompressed bytes all arrays of one artifact may declare (a kNN over 1M prompts x 1024 float32 is 4 GiB).
MAX_ARRAY_BYTES = 8 * 2**30
MAX_TERMS = 2_000_000
MAX_DIM = 8192
#: dtypes an artifact's arrays may have: plain little-endian numbers and booleans (never objects or strings).
ARRAY_DTYPES = ("<f2", "<f4", "<f8", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8", "|b1")
#: The tokeniser routereval's TF-IDF uses; the only one an artifact may name (a pattern from the file could
#: backtrack for ever on a prompt: `(a+)+b`).
TFIDF_TOKEN_PATTERN = r"(?u)\b\w\w+\b"

_HEX64 = r"^[0-9a-f]{64}$"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ManifestError(ValueError):
    """A manifest that does not follow the schema; the message names the field."""


def _plain_name(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters (line breaks, tabs, NUL)")
    if value != value.strip():
        raise ValueError("must not start or end with spaces")
    return value


Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME), AfterValidator(_plain_name)]
Hex64 = Annotated[str, Field(pattern=_HEX64)]
Count = Annotated[int, Field(ge=0, le=10**10)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Unit = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Price = Annotated[float, Field(ge=0.0, le=MAX_PRICE, allow_inf_nan=False)]
Text = Annotated[str, Field(max_length=4096)]
MemberName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,64}$")]
FileName = Literal["router.npz", "encoder.npz"]


class _Strict(BaseModel):
    # strict: a JSON true is not the number 1, "3" is not 3; forbid: a manifest is machine-written.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ArraySpec(_Strict):
    """What one .npz member must hold: its dtype and shape (read and checked before any byte of data)."""

    dtype: Literal[ARRAY_DTYPES]  # type: ignore[valid-type]
    shape: Annotated[list[Annotated[int, Field(ge=0, le=2**40)]], Field(max_length=4)]

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * int(self.dtype[2:])


class Prices(_Strict):
    input: Price | None
    output: Price | None


class CostModel(_Strict):
    unit: Literal["USD per request"]
    chars_per_token: Literal[4.0]
    output_tokens: Annotated[int, Field(ge=0, le=MAX_OUTPUT_TOKENS)]


class SourceFile(_Strict):
    url: Text | None
    sha256: Hex64 | None


class Training(_Strict):
    dataset: Name
    kind: Annotated[str, Field(max_length=64)]
    protocol: Literal["all", "train"]
    split: Text
    n_train: Count
    n_val: Count
    n_test: Count
    sha256: Hex64
    source_files: Annotated[list[SourceFile], Field(max_length=1000)]


class HeldOut(_Strict):
    n_test: Count
    mean_score: Finite
    best_single_on_train: Finite
    oracle: Finite
    gain_vs_best_single: Finite


class VectorizerSettings(_Strict):
    """scikit-learn TfidfVectorizer settings as routereval always writes them; only these values are accepted."""

    analyzer: Literal["word"]
    binary: Literal[False]
    lowercase: Literal[True]
    max_df: Literal[1.0]
    max_features: Annotated[int, Field(ge=1, le=MAX_TERMS)] | None
    min_df: Annotated[int, Field(ge=1, le=10**9)]
    ngram_range: Annotated[list[Annotated[int, Field(ge=1, le=3)]], Field(min_length=2, max_length=2)]
    norm: Literal["l2"]
    smooth_idf: Literal[True]
    strip_accents: Literal["unicode"]
    sublinear_tf: bool
    token_pattern: Literal[TFIDF_TOKEN_PATTERN]  # type: ignore[valid-type]
    use_idf: Literal[True]


class TfidfSettings(_Strict):
    ngram_range: Annotated[list[Annotated[int, Field(ge=1, le=3)]], Field(min_length=2, max_length=2)]
    min_df: Annotated[int, Field(ge=1, le=10**9)]
    max_features: Annotated[int, Field(ge=1, le=MAX_TERMS)] | None
    sublinear_tf: bool
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)]
    n_threads: Annotated[int, Field(ge=1, le=1024)] | None


class TfidfEntry(_Strict):
    kind: Literal["tfidf"]
    name: Annotated[str, Field(pattern=r"^tfidf-[0-9]{1,5}-[0-9a-f]{16}$")]
    dim: Annotated[int, Field(ge=1, le=MAX_DIM)]
    fingerprint: Hex64
    n_fit_texts: Annotated[int, Field(ge=1, le=10**10)]
    vectorizer: VectorizerSettings
    settings: TfidfSettings

    @model_validator(mode="after")
    def _consistent(self) -> TfidfEntry:
        lo, hi = self.settings.ngram_range
        if lo > hi:
            raise ValueError(f"ngram_range {self.settings.ngram_range} runs backwards")
        vec = self.vectorizer
        for key in ("ngram_range", "min_df", "max_features", "sublinear_tf"):
            if getattr(vec, key) != getattr(self.settings, key):
                raise ValueError(f"vectorizer.{key} differs from settings.{key}")
        if self.name != f"tfidf-{self.dim}-{self.fingerprint[:16]}":
            raise ValueError("name does not match dim and fingerprint")
        return self


class MiniLMSettings(_Strict):
    max_seq_length: Annotated[int, Field(ge=1, le=512)] | None


class MiniLMEntry(_Strict):
    kind: Literal["minilm"]
    name: Annotated[str, Field(max_length=64)]
    dim: Annotated[int, Field(ge=1, le=MAX_DIM)]
    settings: MiniLMSettings

    @model_validator(mode="after")
    def _known_path(self) -> MiniLMEntry:
        from routereval.encoders.registry import MINILM_PATHS, STATIC_ENCODER

        if self.name not in ("minilm", *MINILM_PATHS, STATIC_ENCODER):
            raise ValueError(f"unknown MiniLM path {self.name!r}; known: {', '.join((*MINILM_PATHS, STATIC_ENCODER))}")
        return self


ParamValue = Union[None, bool, int, Finite, Text, Annotated[list[Union[None, bool, int, Finite, Text]],
                                                            Field(max_length=100)]]


class RouterEntry(_Strict):
    name: Name
    params: Annotated[dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")], ParamValue],
                      Field(max_length=64)]
    inputs: Literal["embeddings", "none"]
    state: dict[str, Any]

    @model_validator(mode="after")
    def _buildable(self) -> RouterEntry:
        cls = registered_router(self.name)
        if getattr(cls, "inputs", "embeddings") != self.inputs:
            raise ValueError(f"inputs {self.inputs!r} is not what router {self.name!r} reads")
        build_router(self.name, self.params)
        return self


class FileEntry(_Strict):
    """A file's entry in ``files`` (format version 3): what routereval.manifests records."""

    size: Annotated[int, Field(ge=0, le=MAX_ARRAY_BYTES + 2**30)]
    sha256: Hex64
    sample_sha256: Hex64


class _Fields(_Strict):
    """The artifact's fields, common to every version; see docs/serving.md for what each means."""

    format: Literal["routereval-router"]
    format_version: int
    routereval_version: Annotated[str, Field(max_length=64)]
    created: Annotated[str, Field(max_length=64)]
    router: RouterEntry
    encoder: Annotated[Union[TfidfEntry, MiniLMEntry], Field(discriminator="kind")] | None
    candidates: Annotated[list[Name], Field(min_length=1, max_length=MAX_CANDIDATES)]
    prices: Annotated[dict[Name, Prices], Field(max_length=MAX_CANDIDATES)]
    cost_model: CostModel
    prior: Annotated[list[Unit], Field(max_length=MAX_CANDIDATES)]
    training: Training | None = None
    held_out: HeldOut | None = None
    files: dict[FileName, Any]
    arrays: dict[FileName, Annotated[dict[MemberName, ArraySpec], Field(max_length=100_000)]]

    @model_validator(mode="after")
    def _consistent(self) -> _Fields:
        m = len(self.candidates)
        if len(set(self.candidates)) != m:
            dup = next(c for c in self.candidates if self.candidates.count(c) > 1)
            raise ValueError(f"candidates: {dup!r} is listed twice")
        unknown = sorted(set(self.prices) - set(self.candidates))
        if unknown:
            raise ValueError(f"prices: {unknown[0]!r} is not a candidate")
        if len(self.prior) != m:
            raise ValueError(f"prior: {len(self.prior)} values for {m} candidates")
        if set(self.arrays) != set(self.files):
            raise ValueError("arrays must describe exactly the files listed in files")
        if ROUTER_WEIGHTS not in self.files:
            raise ValueError(f"files: {ROUTER_WEIGHTS} is not listed")
        wants_encoder = self.router.inputs == "embeddings"
        if wants_encoder != (self.encoder is not None):
            raise ValueError(f"encoder: router {self.router.name!r} reads "
                             f"{'prompt vectors and needs' if wants_encoder else 'no prompt and takes no'} encoder")
        tfidf = isinstance(self.encoder, TfidfEntry)
        if tfidf != (ENCODER_WEIGHTS in self.files):
            raise ValueError(f"files: {ENCODER_WEIGHTS} is listed if and only if the encoder is tfidf")
        members = self.arrays[ROUTER_WEIGHTS]
        names = members.get(CANDIDATES_MEMBER)
        if names is None or names.dtype != "|u1" or len(names.shape) != 1:
            raise ValueError(f"arrays: {ROUTER_WEIGHTS} must hold {CANDIDATES_MEMBER!r} as UTF-8 bytes")
        used = check_state_tree(self.router.state, set(members) - {CANDIDATES_MEMBER})
        unused = sorted(set(members) - used - {CANDIDATES_MEMBER})
        if unused:
            raise ValueError(f"arrays: {ROUTER_WEIGHTS} member {unused[0]!r} is not used by the router state")
        if tfidf:
            self._check_encoder_arrays()
        total = sum(spec.nbytes for file in self.arrays.values() for spec in file.values())
        if total > MAX_ARRAY_BYTES:
            raise ValueError(f"arrays declare {total} bytes, above the limit of {MAX_ARRAY_BYTES}")
        return self

    def _check_encoder_arrays(self) -> None:
        enc = self.arrays[ENCODER_WEIGHTS]
        if set(enc) != {"terms", "idf", "components"}:
            raise ValueError(f"arrays: {ENCODER_WEIGHTS} must hold exactly terms, idf and components")
        if enc["terms"].dtype != "|u1" or len(enc["terms"].shape) != 1:
            raise ValueError("arrays: terms must be UTF-8 bytes")
        idf, comp = enc["idf"], enc["components"]
        if idf.dtype[1] != "f" or comp.dtype[1] != "f" or len(idf.shape) != 1:
            raise ValueError("arrays: idf and components must be floating point")
        n_terms = idf.shape[0]
        if not 1 <= n_terms <= MAX_TERMS:
            raise ValueError(f"arrays: {n_terms} terms; expected 1 to {MAX_TERMS}")
        if comp.shape != [self.encoder.dim, n_terms]:
            raise ValueError(f"arrays: components has shape {comp.shape}, expected [{self.encoder.dim}, {n_terms}]")


class Manifest(_Fields):
    """The whole manifest, format version 3."""

    format_version: Literal[3]
    files: dict[FileName, FileEntry]
    manifest_sha256: Hex64


class ManifestV2(_Fields):
    """The whole manifest, format version 2 (still read): ``files`` holds each file's sha256 alone."""

    format_version: Literal[2]
    files: dict[FileName, Hex64]
    checksum: Hex64


_STATE_KINDS = {"array", "value", "float", "list", "tuple", "dict", "router"}
_ATTRIBUTE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}_$")


def check_state_tree(tree: Any, members: set[str], where: str = "router.state", depth: int = 0) -> set[str]:
    """Check the layout of learned state (see deploy/state.py); returns the array members it uses."""
    if depth > MAX_DEPTH:
        raise ValueError(f"{where}: nested deeper than {MAX_DEPTH}")
    if not isinstance(tree, dict):
        raise ValueError(f"{where}: must be an object")
    used: set[str] = set()
    for attr, node in tree.items():
        if not isinstance(attr, str) or not _ATTRIBUTE.match(attr):
            raise ValueError(f"{where}: {attr!r} is not a learned attribute name (a letter first, ending in '_')")
        used |= _check_node(node, members, f"{where}.{attr}", depth + 1)
    return used


def _check_node(node: Any, members: set[str], where: str, depth: int) -> set[str]:
    if depth > MAX_DEPTH:
        raise ValueError(f"{where}: nested deeper than {MAX_DEPTH}")
    if not isinstance(node, dict) or len(node) != 1 or next(iter(node)) not in _STATE_KINDS:
        raise ValueError(f"{where}: must be one of {{{', '.join(sorted(_STATE_KINDS))}: ...}}")
    (kind, payload), = node.items()
    if kind == "array":
        if not isinstance(payload, str) or payload not in members:
            raise ValueError(f"{where}: array {payload!r} is not declared in {ROUTER_WEIGHTS}")
        return {payload}
    if kind == "value":
        ok = payload is None or isinstance(payload, (bool, int, float)) or (
            isinstance(payload, str) and len(payload) <= 4096)
        if not ok or (isinstance(payload, float) and not math.isfinite(payload)):
            raise ValueError(f"{where}: a value must be null, a boolean, a number or a short string")
        return set()
    if kind == "float":
        if payload not in ("inf", "-inf", "nan"):
            raise ValueError(f"{where}: a float entry is 'inf', '-inf' or 'nan', got {payload!r}")
        return set()
    if kind in ("list", "tuple"):
        if not isinstance(payload, list) or len(payload) > 100_000:
            raise ValueError(f"{where}: must be a list (at most 100000 items)")
        used: set[str] = set()
        for i, item in enumerate(payload):
            used |= _check_node(item, members, f"{where}[{i}]", depth + 1)
        return used
    if kind == "dict":
        if not isinstance(payload, dict) or len(payload) > 100_000:
            raise ValueError(f"{where}: must be an object")
        used = set()
        for key, item in payload.items():
            used |= _check_node(item, members, f"{where}[{key!r}]", depth + 1)
        return used
    # A registered router inside another (an ensemble's members, the safe router's base).
    if not isinstance(payload, dict) or set(payload) != {"name", "params", "state"}:
        raise ValueError(f"{where}: a router entry has exactly name, params and state")
    if not isinstance(payload["name"], str):
        raise ValueError(f"{where}.name: must be a string")
    registered_router(payload["name"])
    if not isinstance(payload["params"], dict):
        raise ValueError(f"{where}.params: must be an object")
    used = set()
    for key, item in payload["params"].items():
        used |= _check_node(item, members, f"{where}.params.{key}", depth + 1)
    return used | check_state_tree(payload["state"], members, f"{where}.state", depth + 1)


def registered_router(name: str) -> type:
    """The registered router class called ``name``, or a ValueError listing the known ones."""
    from routereval.routers.base import all_routers

    routers = all_routers()
    if name not in routers:
        raise ValueError(f"router {name!r} is not registered in this installation; known: {', '.join(sorted(routers))}")
    return routers[name]


def build_router(name: str, params: dict[str, Any]) -> Any:
    """A fresh router from its name and hyper-parameters, refused (ValueError naming the parameter) if they are bad.

    The constructor only stores the parameters (the scikit-learn contract);
    the router's own ``check_params`` then refuses wrong types and ranges.
    """
    cls = registered_router(name)
    try:
        router = cls(**params)
    except TypeError as exc:
        raise ValueError(f"router {name!r}: {exc}") from exc
    if hasattr(router, "check_params"):
        try:
            router.check_params()
        except (TypeError, ValueError) as exc:
            text = str(exc)
            raise ValueError(text if text.startswith("router ") else f"router {name!r}: {text}") from exc
    return router


# -- checking ----------------------------------------------------------------------------------


def v2_checksum_matches(doc: dict[str, Any]) -> bool:
    """True when a version 2 manifest's ``checksum`` is the sha256 of its other content as compact JSON.

    The rule of version 2: keys sorted, no spaces, non-ASCII characters as UTF-8.
    """
    body = {k: v for k, v in doc.items() if k != "checksum"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return doc.get("checksum") == hashlib.sha256(text.encode()).hexdigest()


def validate(doc: dict[str, Any]) -> Manifest | ManifestV2:
    """The schema's view of ``doc`` (of its version), or a ManifestError naming the first field that is wrong."""
    schema = ManifestV2 if doc.get("format_version") == 2 else Manifest
    try:
        return schema.model_validate(doc)
    except ValidationError as exc:
        raise ManifestError(describe_error(exc)) from None


def describe_error(exc: ValidationError) -> str:
    """One line for pydantic's first error: the field's path, what is wrong, the value (shortened)."""
    first = exc.errors(include_url=False)[0]
    loc = [str(p) for p in first["loc"] if p not in ("tfidf", "minilm")]
    if loc and loc[-1] == "[key]":  # the key itself is wrong, not its value
        loc = [*loc[:-2], f"key {loc[-2]!r}"]
    where = ".".join(loc)
    message = first["msg"].removeprefix("Value error, ")
    value = repr(first.get("input"))
    value = value if len(value) <= 60 else value[:57] + "..."
    shown = "" if first["type"] in ("missing", "value_error", "assertion_error") else f" (got {value})"
    return f"{where}: {message}{shown}" if where else f"{message}{shown}"


__all__ = ["Manifest", "ManifestError", "ManifestV2", "build_router", "seal", "v2_checksum_matches", "validate"]
