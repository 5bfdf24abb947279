"""Both spec formats into the one form the compiler reads.

`apiVersion: vllora.dev/v2` calls a transform one way, `{$op: NAME, ...args}` (a bare `NAME` where a
transform is expected; a list of calls is a pipeline), and its `overrides` layers add up like `extends`.
`vllora.dev/v1` files keep loading: their `{name, args}` references, `chain` pipelines and the names of the
transforms later merged into others are rewritten here, and their override layers ("the last matching layer
is used") are made to add up to the same thing (`settle_v1_layers`). The compiler sees one form: v1's
reference syntax with today's transform names, and layers that compose.

Every rewritten node keeps pointing at its place in the file (`SourceDoc.aliases`), so a diagnostic about
the compiler's form is reported at the line, column and path the author wrote.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from typing import Any

from .diagnostics import Diagnostics
from .loader import Path, SourceDoc, format_path

V1 = "vllora.dev/v1"
V2 = "vllora.dev/v2"
VERSIONS = (V1, V2)

Renamed = Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]

RENAMED: dict[str, Renamed] = {
    "data_url_media_type": lambda args: ("data_url", {"part": "media_type"}),
    "data_url_data": lambda args: ("data_url", {"part": "data"}),
    "not_data_url": lambda args: ("data_url", {"part": "link"}),
    "sum_or_none": lambda args: ("sum", {"empty": None}),
    "forbid": lambda args: ("require", {**args, "absent": True}),
    "data_url_source": lambda args: ("data_url", dict(args)),
    "json_object_or_wrap": lambda args: ("json_parse", {"wrap": args.get("key", "result")}),
    "drop_matching": lambda args: ("drop_when", dict(args)),
    "schema_strip_keys": lambda args: ("schema_keys", {"drop": args.get("keys"), **(
        {"warn": args["warn"]} if "warn" in args else {})}),
    "schema_allow_keys": lambda args: ("schema_keys", {"allow": args.get("keys"), **{
        k: v for k, v in args.items() if k != "keys"}}),
}
"""v1 transform names merged into a more general transform: old name → (new name, its arguments)."""

PIPELINE = "chain"
"""The compiler's pipeline transform: written `chain` in v1, a list of calls in v2."""


def version_of(data: Any) -> str:
    found = data.get("apiVersion") if isinstance(data, dict) else None
    return found if found in VERSIONS else V1


class _Rewriter:
    """Rewrites one document's transform calls into the compiler's form, recording where each came from."""

    def __init__(self, doc: SourceDoc, diags: Diagnostics | None = None) -> None:
        self.doc = doc
        self.v2 = version_of(doc.data) == V2
        self.diags = diags

    def v1_only(self, op: Any, where: Path) -> None:
        """`chain` named in a v2 file: v2 writes a pipeline as a list of calls (one way to call a transform)."""
        if op == PIPELINE and self.diags is not None:
            self.diags.add(self.doc.file, self.doc.mark(where), "SPEC030", format_path(where),
                           "`chain` is the v1 way to write a pipeline",
                           hint="in vllora.dev/v2 a pipeline is a list of calls: [as_list, {$op: drop_when, ...}] "
                                "(in a template: {$op: [...], in: ...})")

    def alias(self, new: Path, old: Path) -> None:
        if new != old:
            self.doc.aliases[new] = old

    # -- a reference where a transform is expected (a rule's transform, retry_after.transform, a step)

    def ref(self, value: Any, where: Path) -> Any:
        if self.v2:
            return self._call_v2(value, where)
        return self._ref_v1(value, where)

    def _call_v2(self, value: Any, where: Path) -> Any:
        if isinstance(value, list):
            self.alias((*where, "args", "steps"), where)
            steps = [self._call_v2(item, (*where, "args", "steps", i)) for i, item in enumerate(value)]
            for i in range(len(value)):
                self.alias((*where, "args", "steps", i), (*where, i))
            return {"name": PIPELINE, "args": {"steps": steps}}
        if isinstance(value, dict) and "$op" in value:
            op = value["$op"]
            args = {k: v for k, v in value.items() if k != "$op"}
            if isinstance(op, list):
                self.alias((*where, "args", "steps"), (*where, "$op"))
                steps = [self._call_v2(item, (*where, "args", "steps", i)) for i, item in enumerate(op)]
                for i in range(len(op)):
                    self.alias((*where, "args", "steps", i), (*where, "$op", i))
                return {"name": PIPELINE, "args": {"steps": steps, **args}}
            self.v1_only(op, (*where, "$op"))
            self.alias((*where, "name"), (*where, "$op"))
            self.alias((*where, "args"), where)
            return {"name": op, "args": self.template(args, where)} if args else {"name": op}
        return value  # a bare name, or a shape the semantic pass reports

    def _ref_v1(self, value: Any, where: Path) -> Any:
        name = value if isinstance(value, str) else value.get("name") if isinstance(value, dict) else None
        if not isinstance(name, str):
            return value
        args = dict(value.get("args") or {}) if isinstance(value, dict) else {}
        if name in RENAMED:
            new, new_args = RENAMED[name](args)
            return {"name": new, "args": new_args} if new_args else new
        if name == PIPELINE and isinstance(args.get("steps"), list):
            steps = [self._ref_v1(step, (*where, "args", "steps", i)) for i, step in enumerate(args["steps"])]
            return {"name": name, "args": {**args, "steps": steps}}
        return value

    # -- a template (anywhere a template is written)

    def template(self, value: Any, where: Path) -> Any:
        if isinstance(value, list):
            return [self.template(item, (*where, i)) for i, item in enumerate(value)]
        if not isinstance(value, dict):
            return value
        out = {key: self.template(item, (*where, key)) for key, item in value.items()}
        op = out.get("$op")
        if op is None:
            return out
        args = {k: v for k, v in out.items() if k not in ("$op", "in")}
        head = {"in": out["in"]} if "in" in out else {}
        if self.v2:
            self.v1_only(op, (*where, "$op"))
        if self.v2 and isinstance(op, list):
            self.alias((*where, "steps"), (*where, "$op"))
            steps = [self._call_v2(step, (*where, "steps", i)) for i, step in enumerate(op)]
            for i in range(len(op)):
                self.alias((*where, "steps", i), (*where, "$op", i))
            return {"$op": PIPELINE, **head, "steps": steps, **args}
        if not self.v2 and op in RENAMED:
            new, new_args = RENAMED[op](args)
            return {"$op": new, **head, **new_args}
        if not self.v2 and op == PIPELINE and isinstance(args.get("steps"), list):
            steps = [self._ref_v1(step, (*where, "steps", i)) for i, step in enumerate(args["steps"])]
            return {**out, "steps": steps}
        return out

    # -- an adjust entry: v2 writes the call itself, `{at?, $op, ...args}`

    def adjust(self, entry: Any, where: Path) -> Any:
        if not isinstance(entry, dict):
            return entry
        if self.v2 and "$op" in entry:
            call = {k: v for k, v in entry.items() if k != "at"}
            self.alias((*where, "transform"), where)
            out = {"at": entry["at"]} if "at" in entry else {}
            out["transform"] = self._call_v2(call, (*where, "transform"))
            return out
        if "transform" in entry:
            return {**entry, "transform": self.ref(entry["transform"], (*where, "transform"))}
        return entry


def _layers(data: dict[str, Any]) -> list[Path]:
    """Where blocks of chat rules are written: the spec itself, each override layer, each API version's patch."""
    out: list[Path] = [(), *(("overrides", i) for i, _ in enumerate(data.get("overrides") or ()))]
    versions = data.get("versions")
    out += [("versions", name) for name, patch in versions.items() if isinstance(patch, dict)] \
        if isinstance(versions, dict) else []
    return out


def _params_blocks(data: dict[str, Any]) -> Iterator[Path]:
    for layer in _layers(data):
        yield (*layer, "params")
    for op in _ops(data):
        yield ("operations", op, "params")
        for j, _ in enumerate(data["operations"][op].get("overrides") or ()):
            yield ("operations", op, "overrides", j, "params")


def _ops(data: dict[str, Any]) -> list[str]:
    operations = data.get("operations")
    return [name for name, op in operations.items() if isinstance(op, dict)] if isinstance(operations, dict) else []


def _get(data: Any, path: Path) -> Any:
    for key in path:
        if isinstance(data, dict):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and key < len(data):
            data = data[key]
        else:
            return None
    return data


def _set(data: Any, path: Path, value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


def internal(doc: SourceDoc, diags: Diagnostics | None = None) -> SourceDoc:
    """`doc` (a schema-valid spec of either format) in the compiler's form; positions are kept. What only v1
    may write (`chain` by name) is reported into `diags` for a v2 file."""
    import copy

    data = copy.deepcopy(doc.data)
    out = SourceDoc(doc.file, data, doc.marks, doc.key_marks, dict(doc.aliases))
    _rewrite(data, _Rewriter(out, diags))
    return out


def to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """A v1 spec's data (or the compiler's form) with v2's calls: `{$op: NAME, ...args}`, lists for pipelines,
    adjust entries as calls, today's transform names. (Override layers are `settle_v1_layers`' business.)"""
    import copy

    out = copy.deepcopy(data)
    _rewrite(out, _ToV2())
    out["apiVersion"] = V2
    return out


class _ToV2:
    """The v1 → v2 rewriter `to_v2` walks a spec with (the interface of `_Rewriter`)."""

    def ref(self, value: Any, where: Path = ()) -> Any:
        name = value if isinstance(value, str) else value.get("name") if isinstance(value, dict) else None
        if not isinstance(name, str):
            return value
        args = dict(value.get("args") or {}) if isinstance(value, dict) else {}
        if name in RENAMED:
            name, args = RENAMED[name](args)
        if name == PIPELINE and isinstance(args.get("steps"), list):
            return [self.ref(step) for step in args["steps"]]
        return {"$op": name, **args} if args else name

    def template(self, value: Any, where: Path = ()) -> Any:
        if isinstance(value, list):
            return [self.template(item) for item in value]
        if not isinstance(value, dict):
            return value
        out = {key: self.template(item) for key, item in value.items()}
        op = out.get("$op")
        if not isinstance(op, str):
            return out
        args = {k: v for k, v in out.items() if k not in ("$op", "in")}
        head = {"in": out["in"]} if "in" in out else {}
        if op in RENAMED:
            op, args = RENAMED[op](args)
        if op == PIPELINE and isinstance(args.get("steps"), list):
            return {"$op": [self.ref(step) for step in args["steps"]], **head}
        return {"$op": op, **head, **args}

    def adjust(self, entry: Any, where: Path = ()) -> Any:
        if not isinstance(entry, dict) or "transform" not in entry:
            return entry
        call = self.ref(entry["transform"])
        head = {"at": entry["at"]} if "at" in entry else {}
        return {**head, **call} if isinstance(call, dict) else {**head, "$op": call}


def _rewrite(data: dict[str, Any], rw: Any) -> None:
    """Every transform reference, template and adjust entry of `data`, rewritten in place by `rw`."""
    for block in _params_blocks(data):
        rules = _get(data, block)
        for name, rule in (rules or {}).items() if isinstance(rules, dict) else ():
            if not isinstance(rule, dict):
                continue
            here = (*block, name)
            for key in ("template", "each"):
                if key in rule:
                    rule[key] = rw.template(rule[key], (*here, key))
            if "transform" in rule:
                rule["transform"] = rw.ref(rule["transform"], (*here, "transform"))
    for block in [(*layer, "messages") for layer in _layers(data)]:
        messages = _get(data, block)
        if not isinstance(messages, dict):
            continue
        for key in ("turn",):
            if key in messages:
                messages[key] = rw.template(messages[key], (*block, key))
        for kind, template in list((messages.get("parts") or {}).items()):
            messages["parts"][kind] = rw.template(template, (*block, "parts", kind))
        for key in ("system", "cache_points"):
            holder = messages.get(key)
            if isinstance(holder, dict) and "template" in holder:
                holder["template"] = rw.template(holder["template"], (*block, key, "template"))
    for block in [(*layer, "adjust") for layer in _layers(data)]:
        entries = _get(data, block)
        if isinstance(entries, list):
            _set(data, block, [rw.adjust(entry, (*block, i)) for i, entry in enumerate(entries)])
    response = data.get("response")
    if isinstance(response, dict):
        for key in ("kinds", "usage", "extras"):
            for name, template in list((response.get(key) or {}).items()):
                response[key][name] = rw.template(template, ("response", key, name))
    events = _get(data, ("stream", "events"))
    for name, handler in list(events.items()) if isinstance(events, dict) else ():
        here = ("stream", "events", name)
        if isinstance(handler, dict) and "switch" in handler:
            for case, template in list((handler.get("cases") or {}).items()):
                handler["cases"][case] = rw.template(template, (*here, "cases", case))
            if "default" in handler:
                handler["default"] = rw.template(handler["default"], (*here, "default"))
        elif handler != "ignore":
            events[name] = rw.template(handler, here)
    error_blocks: list[Path] = [("errors",)]
    for op in _ops(data):
        error_blocks.append(("operations", op, "errors"))
        operation = data["operations"][op]
        for key in ("request",):
            if key in operation:
                operation[key] = rw.template(operation[key], ("operations", op, key))
        _op_response(rw, operation, ("operations", op))
        create = operation.get("create")  # (a prompt cache: its create body and the resource it reads back)
        if isinstance(create, dict) and "request" in create:
            create["request"] = rw.template(create["request"], ("operations", op, "create", "request"))
        if "resource" in operation:
            operation["resource"] = rw.template(operation["resource"], ("operations", op, "resource"))
        for j, layer in enumerate(operation.get("overrides") or ()):
            error_blocks.append(("operations", op, "overrides", j, "errors"))
            if isinstance(layer, dict) and layer.get("request") is not None:
                layer["request"] = rw.template(layer["request"], ("operations", op, "overrides", j, "request"))
            if isinstance(layer, dict):
                _op_response(rw, layer, ("operations", op, "overrides", j))
    for block in error_blocks:
        retry = _get(data, (*block, "retry_after"))
        if isinstance(retry, dict) and "transform" in retry:
            retry["transform"] = rw.ref(retry["transform"], (*block, "retry_after", "transform"))


def _op_response(rw: _Rewriter, holder: dict[str, Any], where: Path) -> None:
    response = holder.get("response")
    if isinstance(response, dict):
        for key in ("item", "fields"):
            if key in response:
                response[key] = rw.template(response[key], (*where, "response", key))


# ---- overrides: v1's "last matching layer" as layers that add up ----------------------------------------------


def _literal_prefix(glob: str) -> str:
    cut = min((i for i, ch in enumerate(glob) if ch in "*?["), default=len(glob))
    return glob[:cut]


def _literal_suffix(glob: str) -> str:
    cut = max((i for i, ch in enumerate(glob) if ch in "*?]"), default=-1)
    return glob[cut + 1 :]


def globs_may_overlap(first: list[str], second: list[str]) -> bool:
    """False only when no model name can match a glob of each (their fixed starts or ends differ)."""
    for a in first:
        for b in second:
            pa, pb = _literal_prefix(a), _literal_prefix(b)
            sa, sb = _literal_suffix(a), _literal_suffix(b)
            if not (pa.startswith(pb) or pb.startswith(pa)):
                continue
            if not (sa.endswith(sb) or sb.endswith(sa)):
                continue
            if (a == pa and not fnmatch.fnmatchcase(a, b)) or (b == pb and not fnmatch.fnmatchcase(b, a)):
                continue  # a plain name that the other glob does not match
            return True
    return False


def _leaves(layer: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The paths a layer sets (mappings descended, anything else a leaf; a transform call `{$op: ...}` is one
    value, never restored key by key)."""
    if isinstance(layer, dict) and path and not layer:
        yield path
    for key, value in layer.items() if isinstance(layer, dict) else ():
        if isinstance(value, dict) and value and "$op" not in value:
            yield from _leaves(value, (*path, key))
        else:
            yield (*path, key)


def has_path(data: Any, path: tuple[str, ...]) -> bool:
    """True when every key of `path` is present, object by object, in `data`."""
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return False
        data = data[key]
    return True


def _restore(layer: dict[str, Any], base: dict[str, Any], path: tuple[str, ...]) -> None:
    """Set `path` in `layer` back to the base's value (null when the base has none), unless the layer sets it."""
    node: Any = layer
    for key in path[:-1]:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        elif not isinstance(child, dict):
            return  # the layer replaces a whole value above this path: nothing of the earlier layer shows
        node = child
    if path[-1] in node:
        return
    import copy

    value = _get(base, path)
    node[path[-1]] = copy.deepcopy(value) if has_path(base, path) else None


def settle_v1_layers(layers: list[Any], base: dict[str, Any]) -> list[Any]:
    """v1 override layers (only the last matching one is used) as layers that add up in order and give the
    same spec for every model: a layer puts back, to the base's value, what an earlier layer that may match
    the same models sets and it does not."""
    import copy

    out: list[Any] = []
    for k, layer in enumerate(layers):
        if not isinstance(layer, dict):
            out.append(layer)
            continue
        settled = copy.deepcopy(layer)
        body = {key: value for key, value in layer.items() if key != "match"}
        for earlier in layers[:k]:
            if not isinstance(earlier, dict) or not globs_may_overlap(list(earlier.get("match") or ()),
                                                                     list(layer.get("match") or ())):
                continue
            for path in _leaves({key: value for key, value in earlier.items() if key != "match"}):
                if _covered(body, path) or (has_path(base, path) and _get(base, path) == _get(earlier, path)):
                    continue  # this layer sets it, or the earlier layer only repeats the spec's own value
                _restore(settled, base, path)
        out.append(settled)
    return out


def _covered(layer: Any, path: tuple[str, ...]) -> bool:
    """True when the layer sets `path` or a value above it (which replaces everything below)."""
    node = layer
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
        if not isinstance(node, dict):
            return True
    return True


def settle_v1_operation_layers(operation: dict[str, Any]) -> dict[str, Any]:
    """A v1 operation's layers in the v2 form: `request`, `response` and `fan_out` replace the operation's
    whole and `params` replace rule by rule (nulls put in for what the base has and the layer does not), and
    only the last matching layer is used (`settle_v1_layers`)."""
    import copy

    layers = operation.get("overrides")
    if not isinstance(layers, list):
        return operation
    base = {k: v for k, v in operation.items() if k != "overrides"}
    whole = []
    for layer in layers:
        if not isinstance(layer, dict):
            whole.append(layer)
            continue
        layer = copy.deepcopy(layer)
        for key in ("request", "response", "fan_out"):
            if layer.get(key) is not None and base.get(key) is not None:
                layer[key] = _replacing(base[key], layer[key])
        for name, rule in (layer.get("params") or {}).items():
            old = (base.get("params") or {}).get(name)
            if isinstance(rule, dict) and isinstance(old, dict):
                layer["params"][name] = _replacing_rule(old, rule)
        whole.append(layer)
    return {**operation, "overrides": settle_v1_layers(whole, base)}


def _replacing(old: Any, new: Any) -> Any:
    """`new` written so that merging it over `old` gives `new` (nulls for the keys only `old` has)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = {key: _replacing(old.get(key), value) for key, value in new.items()}
        out.update({key: None for key in old if key not in new})
        return out
    return new


def _replacing_rule(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A rule replaces the base's rule whole: its own keys as written, nulls for the keys only the base has."""
    return {**new, **{key: None for key in old if key not in new}}
