"""Templates: the shape of a provider's JSON, written as that JSON with references in it.

A template is any YAML value, evaluated against one item (a message part, a tool, a response block):

- a string starting with `$` is a reference: `$` is the item, `$function.name` a path into it
  (`$$` escapes a literal dollar);
- a mapping with the key `$op` calls a registered transform: `{$op: json_parse, in: $function.arguments}`
  (other keys are the transform's arguments, `in` is the template giving its input; without `in` the
  input is the item);
- a mapping with the key `$each` builds one value per item of a list: `{$each: $input, as: {text: $item}}`
  evaluates `as` once per element, on the outer item plus `item` (the element) and `index` (its position);
- any other mapping or list is built recursively; keys whose value comes out None are left out;
- everything else is a literal.

Templates compile once into functions (generated ones for objects, lists and calls: see codegen.py);
evaluating one does no parsing and no lookups by name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .codegen import FunctionBuilder, Shape
from .inline import INLINE, WHOLE
from .paths import Getter, PathError, compile_getter, is_simple, projection_steps, split_path
from .prevalidated import vouched
from .transforms import REGISTRY, TAKES_JSON_TEXT, Context, bind

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
    """Lower `template` into a function `(item, ctx) -> value`.

    Every check runs now (a bad template raises `TemplateError` here). A reference or a literal becomes a
    small closure; a template that builds objects or lists or calls transforms becomes one generated
    function (see codegen.py) doing the lookups inline, with keys, literals and transforms bound by name.
    """
    if isinstance(template, (dict, list)):
        code = FunctionBuilder(("item", "ctx"))
        result = _lower(template, where, code)
        function: Evaluator = code.build(result)
        return function
    if isinstance(template, str) and template.startswith("$") and not template.startswith("$$"):
        return _reference(template, where)
    literal = template[1:] if isinstance(template, str) and template.startswith("$$") else template
    return lambda item, ctx: literal


def events_paths(handlers: dict[str, Any], name_path: str | None) -> set[tuple[str, ...]] | None:
    """The key paths of the payload an `events:` block reads (its name path, each handler's switch path and
    templates); None when one of them is not plain keys or reads a whole payload (see `template_paths`)."""
    paths = template_paths([f"${name_path}"] if name_path is not None else [])
    for spec in handlers.values():
        if spec == "ignore" or paths is None:
            continue
        if isinstance(spec, dict) and "switch" in spec:
            templates = [f"${spec['switch']}", *(spec.get("cases") or {}).values(), spec.get("default")]
            found = template_paths(templates)
        else:
            found = template_paths(spec)
        paths = None if found is None else paths | found
    return paths


def template_roots(template: Any) -> set[str] | None:
    """The top-level keys of the item a template reads; None when it reads the whole item (or a JMESPath)."""
    if isinstance(template, str):
        if not template.startswith("$") or template.startswith("$$"):
            return set()
        path = template[1:].lstrip(".")
        if path in ("", "@", "$") or not is_simple(path):
            return None
        first = split_path(path)[0]
        return {first} if isinstance(first, str) else None
    if isinstance(template, dict) and "$op" in template:  # only `in` is read; without it, the whole item
        return template_roots(template["in"]) if "in" in template else None
    if isinstance(template, dict) and "$each" in template:
        return None  # `as` reads the outer item as a whole
    values = template.values() if isinstance(template, dict) else template if isinstance(template, list) else ()
    out: set[str] = set()
    for value in values:
        found = template_roots(value)
        if found is None:
            return None
        out |= found
    return out


def template_paths(template: Any, text: set[tuple[str, ...]] | None = None) -> set[tuple[str, ...]] | None:
    """The key paths of the item a template reads (`$a.b` → `("a", "b")`); None when it reads the whole item or
    a path that is not plain keys. What the view types of `views.py` are derived from. With `text`, a path read
    only as the input of a transform that takes JSON text (`transforms.TAKES_JSON_TEXT`) goes into `text`
    instead of the result."""
    if text is not None and isinstance(template, dict) and template.get("$op") in TAKES_JSON_TEXT \
            and isinstance(template.get("in"), str):
        found = template_paths(template["in"])
        if found:
            text |= found
            return set()
    if isinstance(template, str):
        if not template.startswith("$") or template.startswith("$$"):
            return set()
        path = template[1:].lstrip(".")
        if path in ("", "@", "$") or not is_simple(path):
            return None
        parts = split_path(path)
        return {tuple(parts)} if all(isinstance(part, str) for part in parts) else None  # type: ignore[arg-type]
    if isinstance(template, dict) and "$op" in template:
        return template_paths(template["in"], text) if "in" in template else None
    if isinstance(template, dict) and "$each" in template:
        return None
    values = template.values() if isinstance(template, dict) else template if isinstance(template, list) else ()
    out: set[tuple[str, ...]] = set()
    for value in values:
        found = template_paths(value, text)
        if found is None:
            return None
        out |= found
    return out


def calls_out(template: Any) -> bool:
    """Whether a template's generated lines call out: a transform without an inline form for its arguments and
    input (inline.py), a `$each`, or a path that is not plain keys (its compiled getter)."""
    if isinstance(template, str):
        if not template.startswith("$") or template.startswith("$$"):
            return False
        path = template[1:].lstrip(".")
        return path not in ("", "@", "$") and (not is_simple(path) or
                                               not all(isinstance(step, str) for step in split_path(path)))
    if isinstance(template, dict):
        if "$op" in template:
            form = INLINE.get(template["$op"])
            args = {k: v for k, v in template.items() if k not in ("$op", "in")}
            source = template.get("in", WHOLE)
            return form is None or form(args, source) is None or (source is not WHOLE and calls_out(source))
        if "$each" in template:
            return True
        return any(calls_out(value) for value in template.values())
    return isinstance(template, list) and any(calls_out(value) for value in template)


def lower_into(template: Any, where: tuple[str | int, ...], code: FunctionBuilder) -> str:
    """Emit the lines computing `template` into another generated function `code` (its item is `item`, its
    context `ctx`); return the expression of its value."""
    if isinstance(template, str) and template.startswith("$") and not template.startswith("$$"):
        _getter(template, where)  # (a bad path raises here, as compile_template would)
    return _lower(template, where, code)


def _getter(template: str, where: tuple[str | int, ...]) -> tuple[str, Getter]:
    path = template[1:].lstrip(".")
    try:
        return path, compile_getter(path)
    except PathError as exc:
        raise TemplateError("SPEC032", where, str(exc)) from None


def _reference(template: str, where: tuple[str | int, ...]) -> Evaluator:
    path, getter = _getter(template, where)
    parts = split_path(path) if path and is_simple(path) else []
    if len(parts) == 1 and isinstance(parts[0], str):
        key = parts[0]
        return lambda item, ctx: item.get(key) if type(item) is dict else None
    if len(parts) > 1 and all(isinstance(part, str) for part in parts):
        code = FunctionBuilder(("item", "ctx"))
        function: Evaluator = code.build(_inline_getter(path, getter, code))
        return function
    return lambda item, ctx: getter(item)


def _lower(template: Any, where: tuple[str | int, ...], code: FunctionBuilder) -> str:
    """Emit the lines computing `template` into `code`; return the expression of its value.

    Lines are emitted in evaluation order (fields and items in order, a transform's input before the call),
    so transforms run, warn and fail in the same order as the template reads.
    """
    if isinstance(template, str):
        if template.startswith("$$"):
            return code.bind(template[1:])
        if template.startswith("$"):
            path, getter = _getter(template, where)
            return _inline_getter(path, getter, code)
        return code.bind(template)
    if isinstance(template, dict):
        if "$op" in template:
            return _lower_call(template, where, code)
        if "$each" in template:
            return _lower_each(template, where, code)
        for key in template:
            if isinstance(key, str) and key.startswith("$"):
                raise TemplateError(
                    "SPEC040",
                    (*where, key),
                    f"unknown template directive {key!r} (the directives are $op, which calls a transform, "
                    "and $each, which maps a list)",
                    at_key=True,
                )
        out = code.temp()
        fields = list(template.items())
        leading = 0  # the leading literal fields go into the display the object starts as
        while leading < len(fields) and (_is_literal(fields[leading][1]) or _present(fields[leading][1], code)):
            leading += 1
        entries = [(code.bind(str(k)), _lower(v, (*where, str(k)), code)) for k, v in fields[:leading]]
        code.line(f"{out} = {{{', '.join(f'{key}: {value}' for key, value in entries)}}}")
        line = len(code.lines) - 1
        for k, v in fields[leading:]:
            key = str(k)
            value = _lower(v, (*where, key), code)
            if value == "None":  # (a read known to be None: the key is left out)
                continue
            if _never_none(v):
                code.line(f"{out}[{code.bind(key)}] = {value}")
            elif value.isidentifier():  # (a local: tested as it is)
                code.line(f"if {value} is not None: {out}[{code.bind(key)}] = {value}")
            else:
                code.line(f"_v = {value}")
                code.line(f"if _v is not None: {out}[{code.bind(key)}] = _v")
        shape = _display_shape(entries, code) if len(code.lines) == line + 1 else None
        if shape is not None:  # (the display is all it holds: every later field was left out)
            code.shapes[out] = (line, shape)
        return out
    if isinstance(template, list):
        out = code.temp()
        leading = 0
        while leading < len(template) and _is_literal(template[leading]):
            leading += 1
        display = ", ".join(_lower(v, (*where, i), code) for i, v in enumerate(template[:leading]))
        code.line(f"{out} = [{display}]")
        for i, v in enumerate(template[leading:], leading):
            value = _lower(v, (*where, i), code)
            if value == "None":
                continue
            if _never_none(v):
                code.line(f"{out}.append({value})")
            elif value.isidentifier():  # (a local: tested as it is)
                code.line(f"if {value} is not None: {out}.append({value})")
            else:
                code.line(f"_v = {value}")
                code.line(f"if _v is not None: {out}.append(_v)")
        return out
    return "None" if template is None else code.bind(template)


def _display_shape(entries: list[tuple[str, str]], code: FunctionBuilder) -> Shape | None:
    """What a dict display of (bound key, value expression) entries holds (`Shape`): a local of `present` or a
    bound scalar per key; None when two keys are equal (YAML's `1` and `"1"`) or a value is anything else."""
    shape: Shape = {}
    for key_name, value in entries:
        key = code.namespace[key_name]
        if key in shape:
            return None
        if value in code.present:
            shape[key] = ("local", value)
            continue
        constant = code.namespace.get(value, shape)
        if constant is shape or not isinstance(constant, (str, int, float, bool)):
            return None
        shape[key] = ("const", constant)
    return shape


def _is_literal(template: Any) -> bool:
    """A template that is a constant other than None (`_lower` binds it: it emits no lines)."""
    if isinstance(template, str):
        return template.startswith("$$") or not template.startswith("$")
    return isinstance(template, (int, float, bool))


def _present(template: Any, code: FunctionBuilder) -> bool:
    """A reference to a key read into a local known never to be None (`FunctionBuilder.present`): it emits no
    lines, so it can go into the display an object starts as."""
    if not (isinstance(template, str) and template.startswith("$") and not template.startswith("$$")):
        return False
    path = template[1:].lstrip(".")
    return is_simple(path) and code.reads.get((path,)) in code.present


def _never_none(template: Any) -> bool:
    """A template whose value is never None: a literal, or an object or list it builds (not a directive)."""
    if isinstance(template, dict):
        return "$op" not in template and "$each" not in template
    return isinstance(template, list) or _is_literal(template)


def _inline_getter(path: str, getter: Getter, code: FunctionBuilder) -> str:
    """The expression reading `path` from `item`: for a path of keys, plain dict lookups (what paths.py's
    getters do: None as soon as a step is missing or not an object); else a call of the compiled getter."""
    if path in ("", "@", "$"):
        return "item"
    parts = split_path(path) if is_simple(path) else []
    if not parts or not all(isinstance(part, str) for part in parts):
        projection = projection_steps(path) if not parts and not code.views else None
        if projection is not None:
            return _inline_projection(*projection, code)
        if parts and not code.views:  # keys and list indexes (`candidates[0].groundingMetadata`)
            return _inline_steps(parts, code)
        return f"{code.bind(getter)}(item)"
    keys = tuple(str(part) for part in parts)
    if len(keys) == 1 and not code.views:
        if code.dicts and keys not in code.reads:
            return f"{code.object_of('item')}.get({code.bind(keys[0])})"
        return code.reads.get(keys) or f"(item.get({code.bind(keys[0])}) if type(item) is dict else None)"
    # Each prefix of the path is read once into a local and shared by the later paths that start with it
    # (`$delta.text`, `$delta.reasoningContent.text`, ... read `delta` once); templates never mutate the item.
    holder = "item"
    for depth in range(1, len(keys) + 1):
        local = code.reads.get(keys[:depth])
        if local is None:
            local = code.reads[keys[:depth]] = code.temp()
            code.line(f"{local} = {code.step(holder, keys[:depth - 1], keys[depth - 1])}")
            code.settle(local, keys[:depth])
        holder = local
    return holder


def _inline_steps(steps: list[str | int], code: FunctionBuilder) -> str:
    """The lines reading a dotted path with list indexes from `item` as paths.py's getter does (a key of a
    non-object, an index of a non-list or out of range: None); return the local holding the value."""
    out = code.temp()
    holder = "item"
    for step in steps:
        if isinstance(step, str) and holder == "item" and code.dicts:
            code.line(f"{out} = {code.object_of(holder)}.get({code.bind(step)})")
        elif isinstance(step, str):
            code.line(f"{out} = {holder}.get({code.bind(step)}) if type({holder}) is dict else None")
        else:
            fits = holder if step in (0, -1) else (  # (a list's truth: not empty, one test less than `len`)
                f"len({holder}) > {step}" if step >= 0 else f"len({holder}) >= {-step}")
            code.line(f"{out} = {holder}[{step}] if type({holder}) is list and {fits} else None")
        holder = out
    return out


def _inline_projection(head: tuple[str, ...], tails: tuple[tuple[str, ...], ...], code: FunctionBuilder) -> str:
    """The lines evaluating `head[]tail[]...` (paths.projection_steps) on `item` as paths.py's projection getter
    does (JMESPath's flatten: a list flattened one level, the tail's keys read from each element, the non-null
    values kept; a key of a non-object or a flatten of a non-list is null); return the local holding it."""
    out = code.temp()
    holder = "item"
    for key in head:
        code.line(f"{out} = {holder}.get({code.bind(key)}) if isinstance({holder}, dict) else None")
        holder = out
    for tail in tails:
        flat, each, element, kept = code.temp(), code.temp(), code.temp(), code.temp()
        code.line(f"if isinstance({out}, list):")
        code.line(f"    {flat} = []")
        code.line(f"    for {each} in {out}:")
        code.line(f"        for {element} in ({each} if isinstance({each}, list) else ({each},)):")
        holder = element
        for key in tail:
            code.line(f"            {kept} = {holder}.get({code.bind(key)}) if isinstance({holder}, dict) else None")
            holder = kept
        code.line(f"            if {holder} is not None: {flat}.append({holder})")
        code.line(f"    {out} = {flat}")
        code.line("else:")
        code.line(f"    {out} = None")
    return out


def _lower_each(template: dict[str, Any], where: tuple[str | int, ...], code: FunctionBuilder) -> str:
    """`{$each: LIST, as: TEMPLATE}`: `as` evaluated per element of LIST (None when LIST is not a list), on the
    outer item plus `item` (the element) and `index`; a None result is left out of the list."""
    extra = sorted(str(k) for k in template if k not in ("$each", "as"))
    if extra or "as" not in template:
        problem = f"unknown key(s) {', '.join(extra)}" if extra else "missing `as` (the template per element)"
        raise TemplateError("SPEC040", where, f"$each: {problem}; write {{$each: $list, as: template}}")
    source = _lower(template["$each"], (*where, "$each"), code)
    each = _each(compile_template(template["as"], (*where, "as")))
    code.passes_ctx = True
    return f"{code.bind(each)}(item, {source}, ctx)"


def _each(inner: Evaluator) -> Callable[[Any, Any, Context], list[Any] | None]:
    def run(item: Any, values: Any, ctx: Context) -> list[Any] | None:
        if type(values) is not list:
            return None
        outer = item if type(item) is dict else {}
        out = []
        for index, value in enumerate(values):
            result = inner({**outer, "item": value, "index": index}, ctx)
            if result is not None:
                out.append(result)
        return out

    return run


def _lower_call(template: dict[str, Any], where: tuple[str | int, ...], code: FunctionBuilder) -> str:
    name = template["$op"]
    if not isinstance(name, str) or name not in REGISTRY:
        known = ", ".join(sorted(REGISTRY))
        raise TemplateError("SPEC030", (*where, "$op"), f"unknown transform {name!r} (known: {known})")
    args = {k: v for k, v in template.items() if k not in ("$op", "in")}
    problem = check_args(name, args)
    if problem:
        raise TemplateError("SPEC031", where, problem)
    form = INLINE.get(name)
    emit = form(args, template.get("in", WHOLE)) if form is not None else None
    if emit is None:
        source = _lower(template["in"], (*where, "in"), code) if "in" in template else "item"
    try:
        apply = bind(name, args)
    except ValueError as exc:  # a factory may reject arguments its schema cannot express (e.g. chain steps)
        raise TemplateError("SPEC031", where, str(exc)) from None
    if emit is not None:  # (the transform's inline form, inline.py: its lines instead of the call)
        return emit(_InlineCode(code, apply, (*where, "in")))
    code.passes_ctx = True
    return f"{code.bind(apply)}({source}, ctx)"


class _InlineCode:
    """What an inline form writes with (inline.InlineCode): the template's builder, where its `in` is."""

    __slots__ = ("_apply", "_name", "code", "where")

    def __init__(self, code: FunctionBuilder, apply: Any, where: tuple[str | int, ...]) -> None:
        self.code = code
        self._apply = apply
        self._name: str | None = None
        self.where = where

    @property
    def apply(self) -> str:
        """The transform's name in the generated code, called `(value, ctx)`: it passes `ctx` on."""
        self.code.passes_ctx = True
        if self._name is None:  # (bound where it is first used, as a call binds it after its input)
            self._name = self.code.bind(self._apply)
        return self._name

    def lower(self, template: Any, *steps: str | int) -> str:
        return "item" if template is WHOLE else _lower(template, (*self.where, *steps), self.code)

    @property
    def viewed(self) -> bool:
        return bool(self.code.views)

    def local(self, expression: str) -> str:
        if expression.isidentifier():
            return expression
        local = self.code.temp()
        self.code.line(f"{local} = {expression}")
        return local

    def line(self, text: str) -> None:
        self.code.line(text)

    def text(self, local: str) -> None:
        self.code.texts.add(local)

    def bind(self, value: Any) -> str:
        return self.code.bind(value)

    def temp(self) -> str:
        return self.code.temp()


def check_args(name: str, args: dict[str, Any]) -> str | None:
    """A message describing why `args` do not fit transform `name`'s schema, or None."""
    if vouched(("transform", name, repr(args))):
        return None  # a cached spec: validation checked these arguments before it was stored
    from jsonschema import Draft202012Validator

    from .regex_guard import regex_problem

    validator = Draft202012Validator(REGISTRY[name].args_schema)
    errors = sorted(validator.iter_errors(args), key=lambda e: list(e.absolute_path))
    if not errors:
        for key, prop in (REGISTRY[name].args_schema.get("properties") or {}).items():
            if isinstance(prop, dict) and prop.get("format") == "regex" and isinstance(args.get(key), str):
                problem = regex_problem(args[key])
                if problem:
                    return f"arguments of {name!r} at {key}: {problem}"
        return None
    first = errors[0]
    where = ".".join(str(p) for p in first.absolute_path)
    message = first.message
    if first.validator == "additionalProperties" and isinstance(first.instance, dict):
        allowed = sorted(first.schema.get("properties") or {})
        extras = sorted(str(k) for k in first.instance if k not in allowed)
        message = f"unknown argument {', '.join(map(repr, extras))} (allowed: {', '.join(allowed) or 'none'})"
    return f"arguments of {name!r}{' at ' + where if where else ''}: {message}"
