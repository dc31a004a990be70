"""What the proxy accepts over HTTP: the request bodies as pydantic schemas, and the checks before parsing.

Every body goes through :func:`parse_body` (bytes to a JSON object, refusing
what is not UTF-8 JSON, nests deeper than :data:`MAX_DEPTH` or holds NaN)
and then one schema. The fields the proxy reads (``model``, ``messages``,
``stream``, ``stream_options``, ``n``, ``routing``) are strict: a string is a
string, a bool a bool. Every other field of the OpenAI chat-completions
request goes to the backend as it came, so new OpenAI parameters work without
a proxy release; the nesting bound keeps them from costing stack or time.

A refusal is a :class:`BadRequest` carrying the HTTP status and one message
that names the field, e.g. ``messages[0].content[1].text must be a string``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from routereval import strict_json

#: Deepest nesting of arrays and objects accepted in a body. OpenAI tool schemas nest a few levels; 64 leaves room
#: and keeps every recursive step (parsing, validation, re-encoding) far from Python's stack limit.
MAX_DEPTH = 64
#: Longest model name accepted (OpenAI's ids are far shorter).
MAX_MODEL_NAME = 256
#: Roles of the OpenAI chat API (``developer`` is the newer name of ``system``; ``function`` the older ``tool``).
ROLES = ("system", "developer", "user", "assistant", "tool", "function")


class BadRequest(Exception):
    """A request the proxy refuses: the HTTP status, the message and the OpenAI error ``code``."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


def parse_body(body: bytes) -> dict[str, Any]:
    """The JSON object in ``body``, or :class:`BadRequest` (400) saying why it is not one."""
    if not body.strip():
        raise BadRequest(400, "request body is empty; send a JSON object", "invalid_json")
    try:
        doc = strict_json.loads(body, max_depth=MAX_DEPTH)
    except strict_json.JSONRefused as exc:
        raise BadRequest(400, f"request body {exc}", "too_deep" if exc.too_deep else "invalid_json") from None
    if not isinstance(doc, dict):
        raise BadRequest(400, f"request body must be a JSON object, got {_json_type(doc)}", "invalid_json")
    return doc


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


# -- the schemas -----------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", allow_inf_nan=False)


class ContentPart(_Strict):
    """One part of a multi-part message; text parts must carry their text."""

    type: str = Field(min_length=1, max_length=64)
    text: str | None = None

    @model_validator(mode="after")
    def _text_parts_have_text(self) -> ContentPart:
        if self.type == "text" and self.text is None:
            raise ValueError("a part of type 'text' needs a 'text' string")
        return self


class Message(_Strict):
    """One chat message: a known role, and content as text, parts, or null (an assistant's tool call)."""

    role: Literal[ROLES]  # type: ignore[valid-type]
    content: str | list[ContentPart] | None = None


class StreamOptions(_Strict):
    include_usage: bool | None = None


class Routing(BaseModel):
    """``routing``: the proxy's own per-request options (never sent to a backend)."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)

    cost_weight: float | None = Field(None, ge=0)
    max_cost: float | None = Field(None, ge=0)
    tolerance: float | None = Field(None, ge=0)
    candidates: list[str] | None = None
    exclude: list[str] | None = None


class ChatRequest(_Strict):
    """``POST /v1/chat/completions``: the OpenAI request, with the proxy's ``routing`` options."""

    model: str = Field(min_length=1, max_length=MAX_MODEL_NAME)
    messages: list[Message] = Field(min_length=1)
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    n: int | None = Field(None, ge=1, le=128)
    routing: Routing | None = None

    @model_validator(mode="after")
    def _stream_options_need_a_stream(self) -> ChatRequest:
        # OpenAI refuses this combination too; passing it on would get a 400 from some backends and not others.
        if self.stream_options is not None and not self.stream:
            raise ValueError("stream_options is only allowed with \"stream\": true")
        return self


class RouteRequest(_Strict):
    """``POST /v1/route``: a prompt or messages, and ``routing`` options."""

    prompt: str | None = None
    messages: list[Message] | None = None
    routing: Routing | None = None


_PHRASES = {
    "string_type": "must be a string", "bool_type": "must be true or false", "int_type": "must be an integer",
    "float_type": "must be a number", "list_type": "must be an array", "dict_type": "must be an object",
    "model_type": "must be an object", "model_attributes_type": "must be an object", "missing": "is required",
    "extra_forbidden": "is not a known option", "finite_number": "must be a finite number",
    "too_short": "must not be empty", "string_too_short": "must not be empty",
}


def field_path(loc: tuple[Any, ...]) -> str:
    """``('messages', 0, 'content', 1, 'text')`` as ``messages[0].content[1].text``; pydantic's union branch
    names (``str``, ``list[ContentPart]``) are dropped."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("str", "list[ContentPart]", "none", "ContentPart", "list[Message]") or "[" in str(part):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "request body"


def describe(error: dict[str, Any], known: tuple[str, ...] = ()) -> str:
    """One pydantic error as a sentence naming the field; ``known``: the keys an unknown key may be a typo of."""
    path = field_path(tuple(error["loc"]))
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "literal_error" and path.endswith("role"):
        return f"{path} must be one of {', '.join(ROLES)}"
    if kind == "string_type" and path.endswith("content"):
        return f"{path} must be a string, an array of content parts or null"
    if kind == "extra_forbidden":
        import difflib

        hint = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
        tail = f" (did you mean {hint[0]}?)" if hint else f"; known: {', '.join(known)}" if known else ""
        return f"{path} is not a known option{tail}"
    if kind in _PHRASES:
        return f"{path} {_PHRASES[kind]}"
    ctx = {k: (f"{v:g}" if isinstance(v, float) else v) for k, v in ctx.items()}
    if kind in ("greater_than_equal", "greater_than"):
        return f"{path} must be {'at least' if kind.endswith('equal') else 'above'} {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"{path} must be {'at most' if kind.endswith('equal') else 'below'} {ctx.get('le', ctx.get('lt'))}"
    if kind in ("string_too_long", "too_long"):
        return f"{path} is too long (at most {ctx.get('max_length')})"
    message = error["msg"].removeprefix("Value error, ")
    return message if path == "request body" else f"{path}: {message[0].lower()}{message[1:]}"


def _depth(error: dict[str, Any]) -> int:
    return len([p for p in error["loc"] if not (isinstance(p, str) and ("[" in p or p in ("str", "none")))])


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    # A union reports one error per branch; the most specific (deepest location) is the one the user means.
    # Ties keep pydantic's order, so the string branch of ``content`` reports first.
    return describe(max(errors, key=_depth), tuple(Routing.model_fields))


def validate_chat(doc: dict[str, Any]) -> ChatRequest:
    """``doc`` checked against :class:`ChatRequest`; :class:`BadRequest` (400) naming the first bad field."""
    try:
        return ChatRequest.model_validate(doc)
    except ValidationError as exc:
        raise BadRequest(400, _first_error(exc), "invalid_request") from None


def validate_route(doc: dict[str, Any]) -> RouteRequest:
    """``doc`` checked against :class:`RouteRequest`; :class:`BadRequest` (400) naming the first bad field."""
    try:
        return RouteRequest.model_validate(doc)
    except ValidationError as exc:
        raise BadRequest(400, _first_error(exc), "invalid_request") from None


def chat_schema() -> dict[str, Any]:
    """The JSON schema of the chat request (what the fuzz tests generate bodies from)."""
    return ChatRequest.model_json_schema()
