"""Typed structured output, like the official SDK's `parse()`: a msgspec Struct class (or a pydantic model
class, when pydantic is installed) as the `response_format`.

The class gives the JSON schema sent as a `json_schema` response format (every spec maps that to its provider's
way), and the answer's JSON text is validated into an instance of it: `ParsedChatCompletion.parsed`. JSON that
does not fit is a `StructuredOutputError` naming the class, the field path and the finish reason. pydantic is
never imported here: a pydantic model is recognised by its methods (`model_json_schema`,
`model_validate_json`), so the library does not depend on it.
"""

from __future__ import annotations

import re
from typing import Any, Generic, TypeGuard, TypeVar

import msgspec

from .errors import StructuredOutputError
from .gateway import ChatCompletionMessageWithFinishReason, enc_hook
from .input_guard import explain_no_json_form

T = TypeVar("T")

_NAME = re.compile(r"[^A-Za-z0-9_-]")


def is_output_type(value: Any) -> TypeGuard[type[Any]]:
    """A class `response_format` may be: a msgspec Struct or a pydantic model."""
    return isinstance(value, type) and (issubclass(value, msgspec.Struct) or (
        hasattr(value, "model_json_schema") and hasattr(value, "model_validate_json")))


def output_schema(cls: type[Any]) -> dict[str, Any]:
    """The class's JSON schema with the class itself at the root (providers want an object there, not a
    `$ref`); its `$defs` stay, so references to it and between models resolve."""
    if issubclass(cls, msgspec.Struct):
        schema: dict[str, Any] = msgspec.json.schema(cls)
    else:
        schema = dict(cls.model_json_schema())
    ref = schema.get("$ref")
    defs = schema.get("$defs") or {}
    if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] in defs:
        root = dict(defs[ref[8:]])
        if any(f'"{ref}"' in msgspec.json.encode(d).decode() for d in defs.values()):
            root["$defs"] = defs  # the class refers to itself (or another model to it): keep every definition
        elif len(defs) > 1:
            root["$defs"] = {k: v for k, v in defs.items() if k != ref[8:]}
        return root
    return schema


def response_format_for(cls: type[Any]) -> dict[str, Any]:
    """The unified `json_schema` response format asking for `cls` (its name, ≤ 64 of [A-Za-z0-9_-])."""
    schema = output_schema(cls)
    spec: dict[str, Any] = {"name": _NAME.sub("_", cls.__name__)[:64] or "Output", "schema": schema}
    if isinstance(description := schema.get("description"), str):
        spec["description"] = description
    return {"type": "json_schema", "json_schema": spec}


def parse_output(cls: type[T], text: str, *, provider: str | None = None, finish_reason: str | None = None) -> T:
    """`text` validated into `cls`; `StructuredOutputError` when it is not JSON or does not fit."""
    where = f" (finish_reason {finish_reason})" if finish_reason not in (None, "stop") else ""
    try:
        if issubclass(cls, msgspec.Struct):
            value: T = msgspec.json.decode(text, type=cls)
            return value
        validated: T = cls.model_validate_json(text)  # type: ignore[attr-defined]
        return validated
    except msgspec.ValidationError as exc:
        message, _, path = str(exc).partition(" - at `$")
        raise StructuredOutputError(
            f"the answer does not fit {cls.__name__}{where}: {message[:1].lower()}{message[1:]}", provider=provider,
            path=path.rstrip("`").lstrip(".") or None, body=text, target=cls.__name__) from None
    except msgspec.DecodeError as exc:
        raise StructuredOutputError(f"the answer is not JSON{where}, so it cannot be read as {cls.__name__}: {exc}",
                                    provider=provider, body=text, target=cls.__name__) from None
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        errors = getattr(exc, "errors", None)
        first = errors()[0] if callable(errors) and errors() else {}
        field = ".".join(str(p) for p in first.get("loc", ())) or None
        if first.get("type") == "json_invalid":
            raise StructuredOutputError(
                f"the answer is not JSON{where}, so it cannot be read as {cls.__name__}: {first.get('msg')}",
                provider=provider, body=text, target=cls.__name__) from None
        raise StructuredOutputError(
            f"the answer does not fit {cls.__name__}{where}: {first.get('msg') or exc}", provider=provider,
            path=field, body=text, target=cls.__name__) from None


def _enc_hook(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    return enc_hook(obj)


_JSON = msgspec.json.Encoder(enc_hook=_enc_hook)


def _parsed_builtins(value: Any) -> Any:
    return msgspec.to_builtins(value, enc_hook=_enc_hook)


class ParsedChatCompletion(ChatCompletionMessageWithFinishReason, Generic[T]):
    """A whole response whose answer was asked for as `T` (`completions().parse(...)`): `parsed` is the first
    choice's JSON text validated into a `T`, or None when the model refused (`message().refusal`) or called
    tools instead of answering."""

    parsed: T | None = None

    def to_dict(self) -> dict[str, Any]:
        try:
            out: dict[str, Any] = msgspec.to_builtins(self, enc_hook=_enc_hook)
        except (TypeError, ValueError, NotImplementedError, RecursionError) as exc:
            raise explain_no_json_form(self, exc, _parsed_builtins) from None
        return out

    def to_json(self) -> bytes:
        """The JSON text, `parsed` included (a pydantic model by its `model_dump`)."""
        try:
            return _JSON.encode(self)
        except (TypeError, ValueError, NotImplementedError, RecursionError) as exc:
            raise explain_no_json_form(self, exc, _JSON.encode) from None


def parsed_completion(cls: type[T], result: ChatCompletionMessageWithFinishReason) -> ParsedChatCompletion[T]:
    """`result` with its answer validated into `cls` (a refusal, or tool calls without text, parse to None)."""
    fields = {name: getattr(result, name) for name in result.__struct_fields__}
    message = result.message()
    answered = message.text() or not (message.refusal or message.tool_calls)
    parsed = None if not answered else parse_output(
        cls, message.text(), provider=result.provider, finish_reason=result.finish_reason())
    return ParsedChatCompletion(**fields, parsed=parsed)
