"""Templates: the shape of a provider's JSON, written as that JSON with references in it.

A template is any YAML value, evaluated against one item (a message part, a tool, a response block):

- a string starting with `$` is a reference: `$` is the item, `$function.name` a path into it
  (`$$` escapes a literal dollar);
- a mapping with the key `$op` calls a registered transform: `{$op: json_parse, in: $function.arguments}`
  (other keys are the transform's arguments, `in` is the template giving its input; without `in` the
  input is the item);
- any other mapping or list is built recursively; keys whose value comes out None are left out;
- everything else is a literal.

Templates compile once into closures; evaluating one does no parsing and no lookups by name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .paths import PathError, compile_getter
from .transforms import REGISTRY, Context, bind

Evaluator = Callable[[Any, Context], Any]


class TemplateError(ValueError):
    """A template that does not compile; `code` is the diagnostic code, `where` the path inside it."""

    def __init__(self, code: str, where: tuple[str | int, ...], message: str, *, at_key: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.where = where
        self.message = message
        self.at_key = at_key
        """True when the problem is the key at `where` (a diagnostic then points at the key, not its value)."""


def compile_template(template: Any, where: tuple[str | int, ...] = ()) -> Evaluator:
    """Lower `template` into a closure `(item, ctx) -> value`."""
    if isinstance(template, str):
        if template.startswith("$$"):
            literal = template[1:]
            return lambda item, ctx: literal
        if template.startswith("$"):
            path = template[1:].lstrip(".")
            try:
                getter = compile_getter(path)
            except PathError as exc:
                raise TemplateError("SPEC032", where, str(exc)) from None
            return lambda item, ctx: getter(item)
        return lambda item, ctx: template
    if isinstance(template, dict):
        if "$op" in template:
            return _compile_call(template, where)
        for key in template:
            if isinstance(key, str) and key.startswith("$"):
                raise TemplateError("SPEC040", (*where, key), f"unknown template directive {key!r} (the only "
                                    "directive is $op, which calls a transform)", at_key=True)
        fields = tuple((str(k), compile_template(v, (*where, str(k)))) for k, v in template.items())
        return _object(fields)
    if isinstance(template, list):
        items = tuple(compile_template(v, (*where, i)) for i, v in enumerate(template))

        def build_list(item: Any, ctx: Context) -> Any:
            out = []
            for evaluate in items:
                value = evaluate(item, ctx)
                if value is not None:
                    out.append(value)
            return out

        return build_list
    return lambda item, ctx: template


def _object(fields: tuple[tuple[str, Evaluator], ...]) -> Evaluator:
    def build(item: Any, ctx: Context) -> Any:
        out = {}
        for key, evaluate in fields:
            value = evaluate(item, ctx)
            if value is not None:
                out[key] = value
        return out

    return build


def _compile_call(template: dict[str, Any], where: tuple[str | int, ...]) -> Evaluator:
    name = template["$op"]
    if not isinstance(name, str) or name not in REGISTRY:
        known = ", ".join(sorted(REGISTRY))
        raise TemplateError("SPEC030", (*where, "$op"), f"unknown transform {name!r} (known: {known})")
    args = {k: v for k, v in template.items() if k not in ("$op", "in")}
    problem = check_args(name, args)
    if problem:
        raise TemplateError("SPEC031", where, problem)
    source = compile_template(template["in"], (*where, "in")) if "in" in template else None
    apply = bind(name, args)
    if source is None:
        return lambda item, ctx: apply(item, ctx)
    return lambda item, ctx: apply(source(item, ctx), ctx)


def check_args(name: str, args: dict[str, Any]) -> str | None:
    """A message describing why `args` do not fit transform `name`'s schema, or None."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(REGISTRY[name].args_schema)
    errors = sorted(validator.iter_errors(args), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    first = errors[0]
    where = ".".join(str(p) for p in first.absolute_path)
    message = first.message
    if first.validator == "additionalProperties" and isinstance(first.instance, dict):
        allowed = sorted(first.schema.get("properties") or {})
        extras = sorted(str(k) for k in first.instance if k not in allowed)
        message = f"unknown argument {', '.join(map(repr, extras))} (allowed: {', '.join(allowed) or 'none'})"
    return f"arguments of {name!r}{' at ' + where if where else ''}: {message}"
