"""`vllora-llm spec docs PROVIDER`: a Markdown reference of one provider, generated from its merged spec.

For spec authors and users alike: where the calls go, how the key is sent, which parameters are sent and
under which names, what happens to the others, what changes per model family, and the documentation and
examples of every transform the spec uses (taken from the transform registry, so they cannot go stale).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from typing import Any

AUTH_FORMS = {
    "bearer": "`{name}: Bearer <key>`",
    "header": "`{name}: {prefix}<key>`",
    "query": "`?{name}={prefix}<key>` on the URL",
    "aws_sigv4": "AWS Signature Version 4 (service `{signing_name}`)",
    "none": "no credentials",
}


def _code(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return f"`{text}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


# ---- rules ------------------------------------------------------------------------------------------------


def rule_steps(rule: Mapping[str, Any], policy: str = "warn") -> list[str]:
    """What a supported rule does besides writing its value, in the order the engine runs the steps, then when
    it is not sent (the compiled conditions, in the order they are tested)."""
    steps: list[str] = []
    if "range" in rule:
        bounds = rule["range"]
        steps.append(f"range [{bounds.get('min', '-inf')}, {bounds.get('max', 'inf')}] "
                     f"({bounds.get('action', 'clamp')})")
    if "map" in rule:
        table = rule["map"] or {}
        steps.append("map " + ", ".join(f"{_code(json.dumps(k) if not isinstance(k, str) else k)} → {_code(v)}"
                                        for k, v in table.items()))
    if "template" in rule:
        steps.append("template" + (" (for values not in the map)" if "map" in rule else ""))
    if "each" in rule:
        steps.append("each item through a template")
    if "transform" in rule:
        steps.append("transform " + " → ".join(f"`{name}`" for name in _call_names(rule["transform"])))
    if "default" in rule:
        steps.append(f"default {_code(rule['default'])}" + (" (with a warning)" if rule.get("default_warn") else ""))
    from vllora_llm.engine.params import Policy, rule_conditions

    steps += [f"when {condition.describe()}" for condition in rule_conditions("?", rule, Policy("?", policy))
              if not condition.always]
    return steps


def unsupported_text(rule: Mapping[str, Any] | None, policy: str) -> tuple[str, str]:
    """(what happens, why) for a parameter the spec does not send."""
    if rule is None:
        return f"{policy} (no rule: the policy applies)", ""
    action = rule.get("unsupported")
    what = policy if action is True else str(action)
    if rule.get("allow"):
        what += " (accepted silently: " + ", ".join(_code(v) for v in rule["allow"]) + ")"
    return what, str(rule.get("note") or "")


def _target(name: str, rule: Mapping[str, Any]) -> str:
    return str(rule.get("to") or name.rsplit(".", 1)[-1])


# ---- transforms used --------------------------------------------------------------------------------------


def _call_names(ref: Any) -> Iterator[str]:
    """The transform names a reference calls, in order: a name, a call (`{$op, ...}` or the compiler's
    `{name, args}`) or a pipeline (a list, or the compiler's `chain` with its steps)."""
    if isinstance(ref, str):
        yield ref
    elif isinstance(ref, list):
        for item in ref:
            yield from _call_names(item)
    elif isinstance(ref, dict):
        name = ref.get("$op", ref.get("name"))
        args = ref.get("args") if isinstance(ref.get("args"), dict) else {}
        steps = ref.get("steps", args.get("steps"))
        if name == "chain" and isinstance(steps, list):
            yield from _call_names(steps)
        else:
            yield from _call_names(name)


def _refs(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        yield from _call_names(value.get("$op"))
        yield from _call_names(value.get("transform"))
        for item in value.values():
            yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def transforms_used(spec: Mapping[str, Any]) -> list[str]:
    from vllora_llm.engine.transforms import REGISTRY

    return sorted({name for name in _refs(dict(spec)) if name in REGISTRY})


# ---- the document -----------------------------------------------------------------------------------------


def render(name: str, spec: Mapping[str, Any], file: str | None = None, extends: list[str] | None = None) -> str:
    from vllora_llm.engine.params import unified_params
    from vllora_llm.engine.transforms import REGISTRY

    from .spec_docs_mapping import mapping_sections

    meta = spec.get("metadata") or {}
    out: list[str] = [f"# {meta.get('display_name', name)} (`{name}`)", ""]
    if meta.get("description"):
        out += [str(meta["description"]), ""]
    facts = [("spec", f"`{file}`" if file else f"`{name}`"), ("revision", str(meta.get("revision", "?")))]
    if extends:
        facts.append(("extends", " → ".join(f"`{e}`" for e in extends)))
    if meta.get("api_version"):
        facts.append(("provider API version", f"`{meta['api_version']}`"))
    for version, entry in (spec.get("versions") or {}).items():
        note = (entry or {}).get("note")
        facts.append(("other API version", f"`{version}`" + (f": {note}" if note else "")
                      + f" (`api_version=\"{version}\"`)"))
    if meta.get("docs_url"):
        facts.append(("provider docs", str(meta["docs_url"])))
    out += ["| | |", "|---|---|", *(f"| {k} | {_cell(v)} |" for k, v in facts), ""]

    # endpoint
    endpoint = spec.get("endpoint") or {}
    base = str(endpoint.get("base_url") or "")
    chat = dict(endpoint.get("chat") or {"path": "/chat/completions"})
    own_stream = dict(endpoint.get("stream") or chat)  # as the engine reads it: query falls back to chat's
    calls = [("chat", chat, chat.get("body")), ("stream", {**chat, **own_stream}, own_stream.get("body"))]
    out += ["## Endpoint", "", "| call | method | URL | body adds |", "|---|---|---|---|"]
    for label, call, body in calls:
        query = call.get("query") or {}
        url = (base or "<base_url>").rstrip("/") + str(call.get("path", "/"))
        url += ("?" + "&".join(f"{k}={v}" for k, v in query.items())) if query else ""
        out.append(f"| {label} | {call.get('method', 'POST')} | `{url}` | {_cell(_code(body) if body else '')} |")
    env = _names(endpoint.get("base_url_env"))
    where = " or ".join(f"`{e}`" for e in env)
    hint = str(endpoint.get("base_url_hint") or "")
    out += ["", (f"Base URL `{base}`" if base else "No default base URL") + ": override it with `base_url=`"
            + (f" or {where}." if where else ".") + (f" {hint[:1].upper()}{hint[1:]}." if hint else ""), ""]
    stream = spec.get("stream") or {}
    out += [f"Responses: `{(spec.get('response') or {}).get('mode', 'passthrough')}`; streams: "
            f"`{stream.get('framing', 'sse')}` framing, `{stream.get('mode', 'passthrough')}` mode.", ""]

    # auth
    auth = spec.get("auth") or {"scheme": "none"}
    out += ["## Auth", "", _auth_line(auth)]
    if isinstance(auth.get("api_key"), Mapping):
        out.append("When an API key is passed or set: " + _auth_line(auth["api_key"])[0].lower()
                   + _auth_line(auth["api_key"])[1:])
    headers = spec.get("headers") or {}
    out += ["", "Static headers: " + (", ".join(f"`{k}: {v}`" for k, v in headers.items()) if headers else "none."),
            ""]

    # parameters
    policy = str((spec.get("policy") or {}).get("unsupported", "warn"))
    params = spec.get("params") or {}
    supported = [(p, params[p]) for p in unified_params() if _is_supported(params.get(p))]
    unsupported = [(p, params.get(p)) for p in unified_params() if not _is_supported(params.get(p))]
    out += ["## Parameters", "",
            f"A parameter the spec does not send is handled by `policy.unsupported: {policy}` unless its rule "
            "says otherwise (`error`: a MappingError before any I/O; `warn` and `drop`: not sent, a warning "
            "comes back with the response).", "",
            "### Sent", "", "| parameter | sent as | steps |", "|---|---|---|"]
    out += [f"| `{p}` | `{_target(p, r)}` | {_cell('; '.join(rule_steps(r, policy)))} |" for p, r in supported]
    out += ["", "### Not sent", "", "| parameter | what happens | why |", "|---|---|---|"]
    for p, r in unsupported:
        what, why = unsupported_text(r, policy)
        out.append(f"| `{p}` | {_cell(what)} | {_cell(why)} |")
    renames = [(p, _target(p, r)) for p, r in supported if _target(p, r) != p.rsplit(".", 1)[-1]]
    out += ["", "### Renames", ""]
    if renames:
        out += ["| parameter | provider field |", "|---|---|", *(f"| `{p}` | `{t}` |" for p, t in renames)]
    else:
        out.append("None: every parameter is sent under its own name.")
    out.append("")

    out += mapping_sections(spec)

    # overrides
    out += ["## Overrides by model", ""]
    overrides = spec.get("overrides") or []
    if not overrides:
        out += ["None: every model gets the rules above.", ""]
    for layer in overrides:
        out += ["### " + ", ".join(f"`{g}`" for g in layer.get("match") or ()), ""]
        for p, r in (layer.get("params") or {}).items():
            merged = {**(params.get(p) or {}), **r} if isinstance(r, dict) else None
            if _is_supported(merged):
                assert merged is not None
                steps = "; ".join(rule_steps(merged, policy))
                out.append(f"- `{p}`: sent as `{_target(p, merged)}`" + (f"; {steps}" if steps else ""))
            else:
                what, why = unsupported_text(merged, policy)
                out.append(f"- `{p}`: not sent, {what}" + (f": {why}" if why else ""))
        for part, value in layer.items():
            if part not in ("match", "params"):
                out.append(f"- `{part}`: {_code(value)}")
        out.append("")

    out += _operations(spec, base, policy)

    # transforms
    out += ["## Transforms used", ""]
    used = transforms_used(spec)
    if not used:
        out += ["None.", ""]
    for t in used:
        transform = REGISTRY[t]
        out += [f"### `{t}`", "", transform.doc, ""]
        args = transform.args_schema.get("properties") or {}
        if args:
            out += ["Arguments: " + ", ".join(f"`{a}`" for a in sorted(args)) + ".", ""]
        for example in transform.examples:
            given = f" with {_code(example.args)}" if example.args else ""
            out.append(f"- {_code(json.dumps(example.input))}{given} → {_code(json.dumps(example.output))}")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _operations(spec: Mapping[str, Any], base: str, policy: str) -> list[str]:
    """The `## Operations` section: each operation beside chat, or that the provider lacks it."""
    from vllora_llm.engine.gateway_ops import operation_params
    from vllora_llm.engine.operations import OPERATIONS

    operations = spec.get("operations") or {}
    missing = [f"`{o}`" for o in OPERATIONS if o not in operations]
    out = ["## Operations", "", "Chat is described above."
           + (f" Not offered here: {', '.join(missing)} (a call raises `MappingError` before any I/O)."
              if missing else ""), ""]
    for name in OPERATIONS:
        op = operations.get(name)
        if not isinstance(op, Mapping):
            continue
        endpoint = op.get("endpoint") or {}
        query = endpoint.get("query") or {}
        url = (base or "<base_url>").rstrip("/") + str(endpoint.get("path", "/"))
        url += ("?" + "&".join(f"{k}={v}" for k, v in query.items())) if query else ""
        out += [f"### `{name}`", "", f"{endpoint.get('method', 'POST')} `{url}`"
                + (f"; body adds {_code(endpoint['body'])}" if endpoint.get("body") else "") + "."]
        stream = op.get("stream")
        if isinstance(stream, Mapping):
            out.append(f"Streamed: {stream.get('method', 'POST')} `{(base or '<base_url>').rstrip('/')}"
                       f"{stream.get('path', '/')}`" + (f"; body adds {_code(stream['body'])}" if stream.get("body")
                                                         else "") + " (server-sent events, typed events).")
        fan_out = op.get("fan_out")
        if isinstance(fan_out, Mapping):
            out.append(f"One call per item of `{fan_out.get('over')}` (at most {fan_out.get('concurrency', 4)} at "
                       "once), answers combined in input order with usage summed.")
        response = op.get("response") or {"mode": "passthrough"}   # (the default: the body is the result's type)
        out += ["", "Response: " + ("decoded as is (OpenAI's shape)." if response.get("mode") == "passthrough"
                                    else f"results at `{response.get('data', 'data')}`."), ""]
        if "request" in op:
            out += ["The body is built by the operation's request template from the values below.", ""]
        rules = op.get("params") or {}
        out += ["| parameter | sent as | steps or why not |", "|---|---|---|"]
        for param in operation_params(name):
            rule = rules.get(param)
            if param == "model" and rule is None:
                out.append("| `model` | in the URL | |")
            elif _is_supported(rule):
                out.append(f"| `{param}` | `{_target(param, rule)}` | {_cell('; '.join(rule_steps(rule, policy)))} |")
            else:
                what, why = unsupported_text(rule, policy)
                out.append(f"| `{param}` | not sent | {_cell(what + (': ' + why if why else ''))} |")
        for layer in op.get("overrides") or ():
            changed = ", ".join(f"`{k}`" for k in layer if k != "match")
            out.append("")
            out.append("Models " + ", ".join(f"`{g}`" for g in layer.get("match") or ()) + f": own {changed}.")
        out.append("")
    cache = operations.get("prompt_cache")
    if isinstance(cache, Mapping):
        out += _prompt_cache(cache, base)
    return out


def _prompt_cache(op: Mapping[str, Any], base: str) -> list[str]:
    """The `prompt_cache` operation: what a `cache_control` mark caches, and the calls that manage caches."""
    prefix = op.get("prefix") or {}
    moved = ", ".join(f"`{k}`" for k in prefix.get("keys") or ())
    calls = []
    for name, where in (("create", (op.get("create") or {}).get("endpoint")), ("get", op.get("get")),
                        ("list", (op.get("list") or {}).get("endpoint")), ("delete", op.get("delete"))):
        if isinstance(where, Mapping):
            url = (base or "<base_url>").rstrip("/") + str(where.get("path", "/"))
            calls.append(f"{name}: {where.get('method', 'GET')} `{url}`")
    sizes = ", ".join(f"{', '.join(f'`{g}`' for g in layer.get('match') or ())}: {layer.get('min_tokens')}"
                      for layer in op.get("overrides") or () if "min_tokens" in layer)
    return ["### `prompt_cache`", "",
            f"A `cache_control` mark caches the leading entries of `{prefix.get('list')}` up to the marked message"
            + (f", with {moved}" if moved else "") + f"; later requests name the cache in `{op.get('reference')}`"
            f" (default ttl {op.get('default_ttl', 3600)} s; minimum {op.get('min_tokens', 0)} tokens"
            + (f"; {sizes}" if sizes else "") + ").", "", "Calls: " + "; ".join(calls) + ".", ""]


def _is_supported(rule: Any) -> bool:
    return isinstance(rule, Mapping) and rule.get("unsupported") is None


def _auth_line(auth: Mapping[str, Any]) -> str:
    scheme = str(auth.get("scheme", "none"))
    form = AUTH_FORMS.get(scheme, f"scheme `{scheme}`").format(
        name=auth.get("name") or ("Authorization" if scheme == "bearer" else "?"),
        prefix=auth.get("prefix", ""),
        signing_name=auth.get("signing_name", "?"),
    )
    env = _names(auth.get("env"))
    key = f", the key from {' or '.join(f'`{e}`' for e in env)} or `api_key=`" if env and scheme != "none" else ""
    return f"Scheme `{scheme}`: {form}{key}."


def run(provider: str) -> int:
    from vllora_llm.engine.errors import SpecError
    from vllora_llm.engine.registry import discover, load_spec, unknown_spec_message

    files = discover()
    if provider not in files:
        print(f"error: {unknown_spec_message(provider, files)}", file=sys.stderr)
        return 1
    try:
        spec = load_spec(provider)
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    chain: list[str] = []
    parent = _extends(files[provider].path)
    while parent and parent in files and parent not in chain:
        chain.append(parent)
        parent = _extends(files[parent].path)
    sys.stdout.write(render(provider, spec, files[provider].display, chain))
    return 0


def _extends(path: Any) -> str | None:
    import yaml

    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    value = data.get("extends") if isinstance(data, dict) else None
    return str(value) if value else None
