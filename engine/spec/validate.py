"""Spec validation: the JSON Schema pass, then the semantic pass, both reporting into `Diagnostics`.

The schema (specs/schema/provider-spec.v1.json) closes the vocabulary; the semantic pass checks what a
schema cannot: transforms exist and take their arguments, paths and templates compile, rule targets do not
collide, finish-reason maps stay inside the unified enum, endpoint placeholders are known. The schema pass
lives in `schema_pass.py`; its entry points are importable from here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..gateway import FINISH_REASONS
from ..gateway_ops import OPERATION_TYPES, operation_params
from ..params import unified_params
from ..paths import PathError, compile_getter, compile_setter
from ..templates import TemplateError, check_args, compile_template
from ..transforms import REGISTRY
from .desugar import has_path
from .diagnostics import Diagnostics
from .loader import Path, SourceDoc, format_path
from .part_names import check_event_parts, check_kinds
from .schema_pass import close_match as _close
from .schema_pass import merged_pass as merged_pass
from .schema_pass import report_schema_errors as report_schema_errors
from .schema_pass import schema_pass as schema_pass
from .schema_pass import spec_schema as spec_schema

VARIABLES: tuple[tuple[str, ...], ...] = (("auth", "env"), ("endpoint", "base_url_env"))
"""Environment variables a spec reads: inherited silently, they would hand one provider's key to another."""


def inherited_variables_pass(merged: dict[str, Any], chain: list[SourceDoc], diags: Diagnostics) -> None:
    """Warn when an extending spec points at another service (its own `base_url`) but still reads the
    environment variables its base declares: the base provider's key would be sent to the new host."""
    child, base = chain[0], chain[-1]
    if not any(has_path(doc.data, ("endpoint", "base_url")) for doc in chain[:-1]):
        return  # same service (a tweak of the base's rules): the base's variables are the right ones
    if any(d.file == child.file and d.severity == "ERROR" for d in diags.items):
        return  # fix the errors first; this advice matters once the spec loads
    for path in VARIABLES:
        value: Any = merged
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        declared = any(has_path(doc.data, path) for doc in chain[:-1])
        if value and not declared:
            diags.add(child.file, child.mark(("extends",)), "SPEC023", format_path(path),
                      f"inherits {value!r} from {base.data.get('metadata', {}).get('name')!r}",
                      hint=f"set {format_path(path)} to this provider's own variable (or [] for none)",
                      severity="WARNING")


# ---- the semantic pass --------------------------------------------------------------------------------------


def semantic_pass(doc: SourceDoc, diags: Diagnostics, *, file_stem: str | None = None) -> None:
    data = doc.data
    if file_stem and data.get("metadata", {}).get("name") not in (None, file_stem):
        diags.add(
            doc.file,
            doc.mark(("metadata", "name")),
            "SPEC022",
            "metadata.name",
            f"{data['metadata']['name']!r} differs from the file name {file_stem!r}",
            hint="the file name is what extends: and from_provider() look up",
            severity="WARNING",
        )
    _check_params(doc, ("params",), data.get("params") or {}, diags)
    _check_endpoint(doc, ("endpoint",), data.get("endpoint") or {}, diags)
    _check_messages(doc, ("messages",), data.get("messages") or {}, diags)
    _check_adjust(doc, ("adjust",), data.get("adjust") or (), diags)
    for i, override in enumerate(data.get("overrides") or ()):
        where: Path = ("overrides", i)
        for j, glob in enumerate(override.get("match") or ()):
            if glob.strip() in ("*", "**"):
                diags.add(
                    doc.file,
                    doc.mark((*where, "match", j)),
                    "SPEC039",
                    format_path((*where, "match", j)),
                    f"the glob {glob!r} matches every model",
                    hint="put these rules in the base spec instead",
                )
        _check_params(doc, (*where, "params"), override.get("params") or {}, diags)
        _check_endpoint(doc, (*where, "endpoint"), override.get("endpoint") or {}, diags)
        _check_messages(doc, (*where, "messages"), override.get("messages") or {}, diags)
        _check_adjust(doc, (*where, "adjust"), override.get("adjust") or (), diags)
    _check_response(doc, data.get("response") or {}, diags)
    _check_stream(doc, data.get("stream") or {}, diags)
    check_kinds(doc, data.get("response") or {}, diags)
    check_event_parts(doc, (data.get("stream") or {}).get("events") or {}, diags)
    _check_errors(doc, data.get("errors") or {}, diags)
    _check_operations(doc, data.get("operations") or {}, diags)


def _template(doc: SourceDoc, where: Path, template: Any, diags: Diagnostics) -> None:
    try:
        compile_template(template, where)
    except TemplateError as exc:
        path = exc.where if exc.where[: len(where)] == where else (*where, *exc.where)
        diags.add(doc.file, doc.mark(path, key=exc.at_key), exc.code, format_path(path), exc.message)


def _path(doc: SourceDoc, where: Path, value: Any, diags: Diagnostics, *, setter: bool = False) -> None:
    if not isinstance(value, str):
        return
    try:
        compile_setter(value) if setter else compile_getter(value)
    except PathError as exc:
        diags.add(
            doc.file,
            doc.mark(where),
            "SPEC032",
            format_path(where),
            str(exc),
            hint=(
                "write a dotted path (choices[0].message.content) or JMESPath: a filter "
                "content[?type=='text'].text, a key with other characters in double quotes \"x-key\".value, "
                "a pipe content[0] | text"
            ),
        )


def _transform(doc: SourceDoc, where: Path, ref: Any, diags: Diagnostics, also: tuple[str, ...] = ()) -> None:
    """Check a transform reference; `also`: keys written beside the arguments (an adjust entry's `at`), offered
    as "did you mean" for a misspelt argument."""
    name = ref if isinstance(ref, str) else ref.get("name") if isinstance(ref, dict) else None
    args = ref.get("args") or {} if isinstance(ref, dict) else {}
    args = {key: value for key, value in args.items() if value is not None}  # (in a layer, null removes an arg)
    if name not in REGISTRY:
        diags.add(
            doc.file,
            doc.mark((*where, "name") if isinstance(ref, dict) else where),
            "SPEC030",
            format_path(where),
            f"unknown transform {name!r}",
            hint=(f"did you mean {close!r}? " if (close := _close(str(name), sorted(REGISTRY))) else "")
            + "`vllora-llm spec transforms` lists them",
        )
        return
    if name == "chain" and isinstance(args.get("steps"), list):  # a pipeline: each step is a call of its own
        for i, step in enumerate(args["steps"]):
            _transform(doc, (*where, "args", "steps", i), step, diags)
        return
    problem = check_args(str(name), dict(args))
    if problem:
        spot: Path = (*where, "args") if isinstance(ref, dict) else where
        known = [*(REGISTRY[str(name)].args_schema.get("properties") or {}), *also]
        close = next((c for key in args if key not in known and (c := _close(str(key), known))), None)
        diags.add(
            doc.file,
            doc.mark(spot),
            "SPEC031",
            format_path(spot),
            problem,
            hint=(f"did you mean {close!r}? " if close else "")
            + "`vllora-llm spec transforms` lists each transform's arguments",
        )


def _close_param(name: str, known: set[str]) -> str | None:
    """The unified parameter `name` was probably meant to be: the same last segment under another parent
    (`top_k` → `provider_specific.top_k`), else the nearest spelling."""
    same_leaf = sorted(k for k in known if k.split(".")[-1] == name.split(".")[-1])
    return same_leaf[0] if same_leaf else _close(name, sorted(known))


def _check_params(
    doc: SourceDoc, where: Path, params: Mapping[str, Any], diags: Diagnostics, names: tuple[str, ...] | None = None
) -> None:
    known = set(unified_params() if names is None else names)
    targets: dict[str, str] = {}
    for name, rule in params.items():
        here: Path = (*where, name)
        if name not in known:
            close = _close_param(str(name), known)
            hint = (f"did you mean {close!r}?" if close else "see the parameter list in specs/README.md"
                    if names is None else f"this operation's parameters: {', '.join(names)}")
            diags.add(
                doc.file,
                doc.mark(here, key=True),
                "SPEC035",
                format_path(here),
                f"unknown unified parameter {name!r}",
                hint=hint,
            )
            continue
        if not isinstance(rule, dict):
            continue
        if rule.get("unsupported") is not None and any(k in rule for k in ("to", "map", "template", "transform")):
            diags.add(
                doc.file,
                doc.mark((*here, "unsupported")),
                "SPEC036",
                format_path((*here, "unsupported")),
                f"{name} is both mapped and declared unsupported",
                hint="keep one of them",
            )
        if rule.get("unsupported") is None:
            target = rule.get("to") or str(name).rsplit(".", 1)[-1]
            _path(doc, (*here, "to"), target, diags, setter=True)
            other = targets.get(target)
            exempt = rule.get("unless") == other or (other and (params.get(other) or {}).get("unless") == name)
            if other is not None and not exempt:
                diags.add(
                    doc.file,
                    doc.mark((*here, "to") if "to" in rule else here),
                    "SPEC033",
                    format_path((*here, "to")),
                    f"{name} and {other} both write {target!r}",
                    hint=f"give one of them `unless: {other}` or a different target",
                )
            targets.setdefault(target, str(name))
        bounds = rule.get("range") or {}
        low, high = bounds.get("min"), bounds.get("max")
        if low is not None and high is not None and low > high:
            diags.add(
                doc.file,
                doc.mark((*here, "range")),
                "SPEC038",
                format_path((*here, "range")),
                f"min {low} is greater than max {high}",
                hint="no value fits this range; swap min and max",
            )
        for key in ("template", "each"):
            if key in rule:
                _template(doc, (*here, key), rule[key], diags)
        if rule.get("transform") is not None:
            _transform(doc, (*here, "transform"), rule["transform"], diags)
        named: list[tuple[Path, Any]] = [
            ((*here, "conflicts_with", j), entry.get("param") if isinstance(entry, dict) else entry)
            for j, entry in enumerate(rule.get("conflicts_with") or ())
        ]
        named += [((*here, "requires", j), entry) for j, entry in enumerate(rule.get("requires") or ())]
        named.append(((*here, "unless"), rule.get("unless")))
        named += [((*here, "omit_when", str(key)), key) for key in rule.get("omit_when") or {}]
        for spot, other_name in named:
            if other_name is not None and other_name not in known:
                close = _close_param(str(other_name), known)
                diags.add(
                    doc.file, doc.mark(spot), "SPEC035", format_path(spot), f"unknown unified parameter {other_name!r}",
                    hint=f"did you mean {close!r}?" if close else "see the parameter list in specs/README.md",
                )


def _check_adjust(doc: SourceDoc, where: Path, entries: Any, diags: Diagnostics) -> None:
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        _path(doc, (*where, i, "at"), entry.get("at"), diags, setter=True)
        if "transform" in entry:
            _transform(doc, (*where, i, "transform"), entry["transform"], diags, also=("at",))


def _check_endpoint(doc: SourceDoc, where: Path, endpoint: Mapping[str, Any], diags: Diagnostics) -> None:
    import re

    for key in ("chat", "stream"):
        path = (endpoint.get(key) or {}).get("path")
        if not isinstance(path, str):
            continue
        for name in re.findall(r"\{([^}]*)\}", path):
            if name not in ("model", "api_version"):
                spot: Path = (*where, key, "path")
                diags.add(
                    doc.file,
                    doc.mark(spot),
                    "SPEC037",
                    format_path(spot),
                    f"unknown placeholder {{{name}}} in {path!r}",
                    hint="only {model} and {api_version} are filled in",
                )
    base_url = endpoint.get("base_url")
    declared = set(endpoint.get("placeholders") or {})
    for name in re.findall(r"\{([^}]*)\}", base_url) if isinstance(base_url, str) else ():
        if name not in declared:
            spot = (*where, "base_url")
            diags.add(
                doc.file,
                doc.mark(spot),
                "SPEC037",
                format_path(spot),
                f"unknown placeholder {{{name}}} in {base_url!r}",
                hint=f"declare it under endpoint.placeholders ({name}: {{env: [...]}}) so it can be filled",
            )


def _check_messages(doc: SourceDoc, where: Path, messages: Mapping[str, Any], diags: Diagnostics) -> None:
    for key in ("turn",):
        if key in messages:
            _template(doc, (*where, key), messages[key], diags)
    for kind, template in (messages.get("parts") or {}).items():
        _template(doc, (*where, "parts", kind), template, diags)
    system = messages.get("system") or {}
    if "template" in system:
        _template(doc, (*where, "system", "template"), system["template"], diags)
    for key in ("to",):
        if key in messages:
            _path(doc, (*where, key), messages[key], diags, setter=True)
    if "to" in system:
        _path(doc, (*where, "system", "to"), system["to"], diags, setter=True)
    cache_points = messages.get("cache_points") or {}
    if "template" in cache_points:
        _template(doc, (*where, "cache_points", "template"), cache_points["template"], diags)


def _check_finish(doc: SourceDoc, where: Path, finish: Mapping[str, Any], diags: Diagnostics) -> None:
    _path(doc, (*where, "from"), finish.get("from"), diags)
    allowed = set(FINISH_REASONS)
    for key, value in (finish.get("map") or {}).items():
        if value not in allowed:
            diags.add(
                doc.file,
                doc.mark((*where, "map", key)),
                "SPEC034",
                format_path((*where, "map", key)),
                f"{value!r} is not a unified finish reason",
                hint=f"use one of {'|'.join(FINISH_REASONS)}",
            )
    if finish.get("default") is not None and finish["default"] not in allowed:
        diags.add(
            doc.file,
            doc.mark((*where, "default")),
            "SPEC034",
            format_path((*where, "default")),
            f"{finish['default']!r} is not a unified finish reason",
        )


def _check_response(doc: SourceDoc, response: Mapping[str, Any], diags: Diagnostics) -> None:
    where: Path = ("response",)
    for key in ("id", "model", "created", "choices", "index", "parts"):
        _path(doc, (*where, key), response.get(key), diags)
    kind_by = response.get("kind_by") or {}
    _path(doc, (*where, "kind_by", "field"), kind_by.get("field"), diags)
    for kind, template in (response.get("kinds") or {}).items():
        _template(doc, (*where, "kinds", kind), template, diags)
    if "finish_reason" in response:
        _check_finish(doc, (*where, "finish_reason"), response["finish_reason"], diags)
    for key, template in (response.get("usage") or {}).items():
        _template(doc, (*where, "usage", key), template, diags)
    blocked = response.get("blocked") or {}
    _path(doc, (*where, "blocked", "when"), blocked.get("when"), diags)
    for key, template in (response.get("extras") or {}).items():
        _template(doc, (*where, "extras", key), template, diags)


def _check_stream(doc: SourceDoc, stream: Mapping[str, Any], diags: Diagnostics) -> None:
    where: Path = ("stream",)
    event_type = stream.get("event_type") or {}
    if event_type.get("from") == "field":
        _path(doc, (*where, "event_type", "name"), event_type.get("name"), diags)
    _path(doc, (*where, "error_when"), stream.get("error_when"), diags)
    for key, template in (stream.get("extras") or {}).items():
        _template(doc, (*where, "extras", key), template, diags)
    for name, handler in (stream.get("events") or {}).items():
        here: Path = (*where, "events", name)
        if handler == "ignore":
            continue
        if isinstance(handler, dict) and "switch" in handler:
            _path(doc, (*here, "switch"), handler["switch"], diags)
            for case, template in (handler.get("cases") or {}).items():
                _template(doc, (*here, "cases", case), template, diags)
            if "default" in handler:
                _template(doc, (*here, "default"), handler["default"], diags)
        else:
            _template(doc, here, handler, diags)


def _check_errors(doc: SourceDoc, errors: Mapping[str, Any], diags: Diagnostics, where: Path = ("errors",)) -> None:
    for key in ("message", "type", "code", "request_id"):
        _path(doc, (*where, key), errors.get(key), diags)
    retry = errors.get("retry_after") or {}
    _path(doc, (*where, "retry_after", "from"), retry.get("from"), diags)
    if "transform" in retry:
        _transform(doc, (*where, "retry_after", "transform"), retry["transform"], diags)


def _check_operations(doc: SourceDoc, operations: Mapping[str, Any], diags: Diagnostics) -> None:
    """Each operation, and each of its override layers, checked like the chat mapping's parts."""
    for name, operation in operations.items():
        if name == "prompt_cache" and isinstance(operation, dict):
            _check_prompt_cache(doc, operation, diags)
            continue
        if name not in OPERATION_TYPES or not isinstance(operation, dict):
            continue  # the schema pass reported it
        where: Path = ("operations", name)
        _check_operation_layer(doc, where, name, operation, diags)
        for i, layer in enumerate(operation.get("overrides") or ()):
            here: Path = (*where, "overrides", i)
            for j, glob in enumerate(layer.get("match") or ()):
                if glob.strip() in ("*", "**"):
                    diags.add(doc.file, doc.mark((*here, "match", j)), "SPEC039", format_path((*here, "match", j)),
                              f"the glob {glob!r} matches every model", hint="put these rules in the operation itself")
            _check_operation_layer(doc, here, name, layer, diags)


def _check_prompt_cache(doc: SourceDoc, operation: Mapping[str, Any], diags: Diagnostics) -> None:
    """The prompt-cache operation's templates and error patterns (its shape is the schema's)."""
    import re

    where: Path = ("operations", "prompt_cache")
    create = operation.get("create")
    if isinstance(create, dict) and "request" in create:
        _template(doc, (*where, "create", "request"), create["request"], diags)
    if "resource" in operation:
        _template(doc, (*where, "resource"), operation["resource"], diags)
    for key in ("gone", "too_small"):
        pattern = (operation.get(key) or {}).get("message") if isinstance(operation.get(key), dict) else None
        if not isinstance(pattern, str):
            continue
        try:
            re.compile(pattern)
        except re.error as exc:
            spot: Path = (*where, key, "message")
            diags.add(doc.file, doc.mark(spot), "SPEC031", format_path(spot),
                      f"{pattern!r} is not a regular expression: {exc}", hint="Python `re` syntax")


def _check_operation_layer(
    doc: SourceDoc, where: Path, operation: str, layer: Mapping[str, Any], diags: Diagnostics
) -> None:
    import re

    names = operation_params(operation)
    _check_params(doc, (*where, "params"), layer.get("params") or {}, diags, names)
    if "request" in layer:
        _template(doc, (*where, "request"), layer["request"], diags)
    for key in ("endpoint", "stream"):  # (`stream`: the streamed call's endpoint, where the operation has one)
        path = (layer.get(key) or {}).get("path")
        for placeholder in re.findall(r"\{([^}]*)\}", path) if isinstance(path, str) else ():
            if placeholder not in ("model", "api_version"):
                spot: Path = (*where, key, "path")
                diags.add(doc.file, doc.mark(spot), "SPEC037", format_path(spot),
                          f"unknown placeholder {{{placeholder}}} in {path!r}",
                          hint="only {model} and {api_version} are filled in")
    over = (layer.get("fan_out") or {}).get("over")
    if isinstance(over, str) and over not in names:
        spot = (*where, "fan_out", "over")
        diags.add(doc.file, doc.mark(spot), "SPEC035", format_path(spot),
                  f"fan_out.over names {over!r}, not a parameter of {operation}",
                  hint=f"one of {', '.join(n for n in names if not n.startswith('provider_specific'))}")
    response = layer.get("response") or {}
    for key in ("data", "error_when"):
        _path(doc, (*where, "response", key), response.get(key), diags)
    for key in ("item", "fields"):
        if key in response:
            _template(doc, (*where, "response", key), response[key], diags)
    _check_errors(doc, layer.get("errors") or {}, diags, (*where, "errors"))
