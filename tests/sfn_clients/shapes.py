r"""Checks Step Functions responses, as they came over the wire, against botocore's service model.

botocore's parser silently drops members it does not know and does not check lengths, ranges or
enums, so a server can send a body no AWS SDK would notice is wrong. This module validates the raw
JSON body of every response (captured by `Recorder` on botocore's `before-parse` event) against the
operation's OUTPUT shape, or, for an error, against the modelled error shape:

- required members present, no member the model does not know (reported by name);
- types on the wire of the AWS JSON 1.0 protocol (string, integer/long, float/double, boolean,
  timestamp as epoch seconds, blob as base64, structure, list, map), recursively;
- enums, `min`/`max` (length of strings, lists and maps; range of numbers) and the model's patterns
  (matched against the whole string: `\p{ASCII}*` would otherwise match anything);
- errors: HTTP 400, a `__type` naming an error the operation models (or an AWS common error),
  its members known to the error shape.

Every violation is a string `"<JSON path>: <problem>"`, e.g. `$.events[3].type: 'Foo' is not one of
HistoryEventType's values`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

SERVICE = "stepfunctions"

# The errors every AWS JSON service may return to any operation (AWS's "Common Errors" list for the
# JSON protocols): they are not in each operation's modelled errors.
COMMON_ERRORS = frozenset(
    {
        "AccessDeniedException",
        "IncompleteSignature",
        "InternalFailure",
        "InvalidAction",
        "InvalidClientTokenId",
        "InvalidParameterCombination",
        "InvalidParameterValue",
        "InvalidQueryParameter",
        "MalformedQueryString",
        "MissingAction",
        "MissingAuthenticationToken",
        "MissingParameter",
        "NotAuthorized",
        "OptInRequired",
        "RequestExpired",
        "ServiceUnavailable",
        "ThrottlingException",
        "UnrecognizedClientException",
        "ValidationError",
        "ValidationException",
        # The AWS JSON protocol framework's own answers (HTTP 400, `__type`
        # `com.amazon.coral.service#...`): an X-Amz-Target naming no operation, a body that is not
        # the operation's JSON.
        "UnknownOperationException",
        "SerializationException",
    }
)

# The model's patterns are Java regular expressions; the one construct Python's `re` lacks.
_JAVA_CLASSES = {r"\p{ASCII}": r"[\x00-\x7F]"}


def service_model() -> ServiceModel:
    """botocore's Step Functions model (the one boto3 itself uses)."""
    return botocore.session.get_session().get_service_model(SERVICE)


def _python_pattern(java: str) -> re.Pattern[str]:
    for k, v in _JAVA_CLASSES.items():
        java = java.replace(k, v)
    return re.compile(java)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _type_problem(shape: Shape, value: Any) -> str | None:
    """The wire-type mismatch of `value` for `shape`, or None."""
    t = shape.type_name
    ok = {
        "string": lambda v: isinstance(v, str),
        "integer": _is_int,
        "long": _is_int,
        "float": _is_number,
        "double": _is_number,
        "boolean": lambda v: isinstance(v, bool),
        "timestamp": _is_number,  # AWS JSON 1.0 sends epoch seconds
        "blob": lambda v: isinstance(v, str),
        "structure": lambda v: isinstance(v, dict),
        "list": lambda v: isinstance(v, list),
        "map": lambda v: isinstance(v, dict),
    }.get(t)
    if ok is None:
        return f"shape {shape.name} has type {t!r}, which this checker does not know"
    if not ok(value):
        want = "a number of epoch seconds" if t == "timestamp" else f"a {t}"
        return f"{_show(value)} is not {want} (shape {shape.name})"
    return None


def _show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _bounds(shape: Shape, value: Any, path: str) -> list[str]:
    """`min`/`max` (lengths of strings, lists, maps; values of numbers), enum and pattern."""
    out = []
    meta = shape.metadata
    t = shape.type_name
    if t in ("string", "list", "map"):
        size, what = len(value), "length"
    elif t in ("integer", "long", "float", "double"):
        size, what = value, "value"
    else:
        size, what = None, ""
    if size is not None and "min" in meta and size < meta["min"]:
        out.append(f"{path}: {what} {size} is below the minimum {meta['min']} of {shape.name}")
    if size is not None and "max" in meta and size > meta["max"]:
        out.append(f"{path}: {what} {size} is above the maximum {meta['max']} of {shape.name}")
    enum = getattr(shape, "enum", None) or []
    if t == "string" and enum and value not in enum:
        out.append(f"{path}: {_show(value)} is not one of {shape.name}'s values {list(enum)}")
    if t == "string" and "pattern" in meta and not _python_pattern(meta["pattern"]).fullmatch(value):
        out.append(f"{path}: {_show(value)} does not match {shape.name}'s pattern {meta['pattern']}")
    if t == "blob":
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            out.append(f"{path}: {_show(value)} is not base64 (blob shape {shape.name})")
    return out


def violations(shape: Shape, value: Any, path: str = "$") -> list[str]:
    """Every way `value` (a decoded JSON value) breaks `shape`, each with its JSON path."""
    problem = _type_problem(shape, value)
    if problem is not None:
        return [f"{path}: {problem}"]
    out = _bounds(shape, value, path)
    t = shape.type_name
    if t == "structure":
        out += _structure(shape, value, path)
    elif t == "list":
        for i, item in enumerate(value):
            out += violations(shape.member, item, f"{path}[{i}]")
    elif t == "map":
        for k, v in value.items():
            out += violations(shape.key, k, f"{path}.<key {k!r}>")
            out += violations(shape.value, v, f"{path}[{k!r}]")
    return out


def _structure(shape: Shape, value: dict, path: str) -> list[str]:
    out = []
    members = shape.members
    for name in shape.required_members:
        if value.get(name) is None:
            out.append(f"{path}: required member {name!r} of {shape.name} is missing")
    for name, v in value.items():
        if name not in members:
            out.append(f"{path}: member {name!r} is not in botocore's {shape.name}")
        elif v is not None:
            out += violations(members[name], v, f"{path}.{name}")
    if shape.metadata.get("union") and sum(v is not None for v in value.values()) != 1:
        out.append(f"{path}: union {shape.name} must set exactly one member")
    return out


def decode_body(body: bytes) -> tuple[Any, str | None]:
    """The JSON value of a response body (an empty body is `{}`), or a problem."""
    if not body.strip():
        return {}, None
    try:
        return json.loads(body), None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        return None, f"$: the body is not JSON ({e}): {body[:80]!r}"


def check_output(operation: OperationModel, body: Any) -> list[str]:
    """Violations of a successful response body against the operation's output shape."""
    shape = operation.output_shape
    if shape is None:
        return [] if body in ({}, None) else [f"$: {operation.name} has no output, got {_show(body)}"]
    return violations(shape, body)


def error_code(body: Any) -> str | None:
    """The error code of an AWS JSON error body, as botocore reads `__type`."""
    if not isinstance(body, dict):
        return None
    code = body.get("__type") or body.get("code")
    if not isinstance(code, str):
        return None
    return code.rsplit("#", 1)[-1].split(":", 1)[0]


def check_error(operation: OperationModel, status: int, body: Any) -> list[str]:
    """Violations of an error response: status, a modelled or common code, the shape's members."""
    out = []
    code = error_code(body)
    if code is None:
        return [f"$: error response (HTTP {status}) has no __type: {_show(body)}"]
    modelled = {s.name: s for s in operation.error_shapes}
    if code not in modelled and code not in COMMON_ERRORS:
        out.append(f"$.__type: {code!r} is neither an error of {operation.name} nor a common error")
    want_status = 400
    if code in modelled:
        want_status = modelled[code].metadata.get("error", {}).get("httpStatusCode", 400)
    if code in modelled and status != want_status:
        out.append(f"HTTP status {status} for {code}, the model says {want_status}")
    if code in modelled:
        shape = modelled[code]
        rest = {k: v for k, v in body.items() if k != "__type"}
        out += _structure(shape, rest, "$")
    return out


@dataclass
class Response:
    """One response as it came over the wire, with the violations found in it."""

    operation: str
    status: int
    body: Any
    problems: list[str]

    @property
    def is_error(self) -> bool:
        return self.status >= 300


@dataclass
class Recorder:
    """Captures and checks every raw response of a boto3 Step Functions client.

    `Recorder.attach(client)` registers on `before-parse.sfn.*`, which botocore emits with the
    undecoded HTTP response before its parser drops what it does not model.
    """

    model: ServiceModel = field(default_factory=service_model)
    responses: list[Response] = field(default_factory=list)

    @classmethod
    def attach(cls, client: Any, responses: list[Response] | None = None) -> "Recorder":
        """Records `client`'s responses (into `responses`, to share one list between clients)."""
        rec = cls(model=client.meta.service_model)
        if responses is not None:
            rec.responses = responses
        client.meta.events.register("before-parse.sfn.*", rec._on_response)
        return rec

    def _on_response(self, operation_model: OperationModel, response_dict: dict, **_: Any) -> None:
        status = int(response_dict.get("status_code", 0))
        body, problem = decode_body(response_dict.get("body") or b"")
        if problem is not None:
            problems = [problem]
        elif status >= 300:
            problems = check_error(operation_model, status, body)
        else:
            problems = check_output(operation_model, body)
        self.responses.append(Response(operation_model.name, status, body, problems))

    def last(self) -> Response:
        return self.responses[-1]

    def violations(self) -> list[str]:
        """`Operation (HTTP status): path: problem` for every response seen so far."""
        return [
            f"{r.operation} (HTTP {r.status}): {p}" for r in self.responses for p in r.problems
        ]

    def operations_seen(self, successful: bool = True) -> set[str]:
        return {r.operation for r in self.responses if not successful or not r.is_error}
