"""Message mapping: unified conversation → the provider's turns, as declared in the spec's `messages:`.

`passthrough` keeps OpenAI's shape (optionally renaming roles). `template` flattens every unified message
into typed parts (text, image_url, input_audio, file, tool_call, tool_result, reasoning, redacted_reasoning),
lifts system messages, maps roles, renders each part with its template, merges consecutive same-role turns
and renders each turn. Each step is generic; the spec supplies names and shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .content_parts import reasoning_as_content
from .errors import MappingError
from .paths import compile_setter
from .templates import Evaluator, compile_template, specialize
from .transforms import Context

MessagesOp = Callable[[list[dict[str, Any]], dict[str, Any], Context], None]
PART_KINDS = ("text", "image_url", "input_audio", "file", "tool_call", "tool_result", "reasoning",
              "redacted_reasoning", "refusal")
SYSTEM_ROLES = ("system", "developer")


def compile_messages(spec: Mapping[str, Any], provider: str) -> MessagesOp:
    if spec.get("mode", "passthrough") == "passthrough":
        return _passthrough(spec, provider)
    return _TemplateMapper(spec, provider).apply


def _passthrough(spec: Mapping[str, Any], provider: str) -> MessagesOp:
    roles = dict(spec.get("roles") or {})
    put = compile_setter(spec.get("to", "messages"))
    require_call = bool((spec.get("tool_results") or {}).get("require_call", False))
    drop = frozenset(spec.get("drop_fields") or ())
    renames: dict[str, str] = {str(k): str(v) for k, v in (spec.get("rename_fields") or {}).items()}
    as_content = reasoning_as_content(spec["reasoning_as_content"]) if spec.get("reasoning_as_content") else None

    def apply(messages: list[dict[str, Any]], body: dict[str, Any], ctx: Context) -> None:
        if require_call:
            _check_tool_results(messages, provider)
        if as_content is not None:
            messages = [as_content(m, ctx) for m in messages]
        if roles:
            messages = [{**m, "role": roles.get(m["role"], m["role"])} for m in messages]
        if renames:  # before drop_fields, so a renamed field escapes a drop of its unified name
            messages = [_renamed(m, renames) for m in messages]
        if drop:
            messages = [_without(m, drop) for m in messages]
        put(body, messages)

    return apply


def _renamed(message: dict[str, Any], renames: Mapping[str, str]) -> dict[str, Any]:
    """`message` with its top-level fields renamed (`reasoning` → the name a compatible server reads back)."""
    if not any(key in message for key in renames):
        return message
    return {renames.get(k, k): v for k, v in message.items()}


def _without(message: dict[str, Any], drop: frozenset[str]) -> dict[str, Any]:
    """`message` without the dropped fields, at its top level, in its content parts and its tool calls."""
    out = {k: v for k, v in message.items() if k not in drop}
    content = out.get("content")
    if isinstance(content, list):
        out["content"] = [{k: v for k, v in part.items() if k not in drop} for part in content]
    calls = out.get("tool_calls")
    if calls:
        out["tool_calls"] = [{k: v for k, v in call.items() if k not in drop} for call in calls]
    return out


def _check_tool_results(messages: list[dict[str, Any]], provider: str) -> None:
    """Each `tool` message must answer, by `tool_call_id`, a call an earlier message made."""
    called: set[Any] = set()
    for index, message in enumerate(messages):
        for call in message.get("tool_calls") or ():
            called.add(call.get("id"))
        if message.get("role") == "tool" and message.get("tool_call_id") not in called:
            raise MappingError(
                f"messages[{index}].tool_call_id: {message.get('tool_call_id')!r} answers no earlier assistant "
                "tool call", path=f"messages[{index}].tool_call_id", provider=provider,
            )


class _TemplateMapper:
    def __init__(self, spec: Mapping[str, Any], provider: str) -> None:
        self.provider = provider
        self.put = compile_setter(spec.get("to", "messages"))
        self.roles: dict[str, str] = dict(spec.get("roles") or {})
        self.merge = bool(spec.get("merge_consecutive_roles", False))
        self.first_role: str | None = spec.get("first_role")
        turn = spec.get("turn", {"role": "$role", "content": "$parts"})
        self.turn = compile_template(turn, ("messages", "turn"))
        self.parts: dict[str, Evaluator] = {
            kind: compile_template(tpl, ("messages", "parts", kind)) for kind, tpl in (spec.get("parts") or {}).items()
        }
        self.text_part: Evaluator | None = self.parts.get("text")
        # The plain-conversation path's templates as direct builders where their shape allows (`specialize`):
        # a text part from its text, a turn from its role and parts, the lifted system value from its parts.
        self.text_of: Callable[[str], Any] | None = specialize(
            (spec.get("parts") or {}).get("text"), {"type": "text"}, ("text",), provider)
        self.turn_of: Callable[[str, list[Any]], Any] | None = specialize(turn, {}, ("role", "parts"), provider)
        self.plain_fast_path = True
        """Off only to compare the plain-conversation path with the general one (a unit test)."""
        self.rank = _ranks(list(spec.get("order") or []))
        system = dict(spec.get("system") or {})
        self.system_to = compile_setter(system["to"]) if system.get("to") else None
        self.system_format = system.get("format", "string")
        self.system_take = system.get("take", "leading")
        self.system_later = system.get("later", "error")
        self.system_roles = tuple(system.get("roles") or SYSTEM_ROLES)
        self.system_template = (
            compile_template(system["template"], ("messages", "system", "template")) if "template" in system else None
        )
        self.system_of: Callable[[Any, str], Any] | None = (
            specialize(system["template"], {}, ("parts", "text"), provider) if "template" in system else None)
        results = dict(spec.get("tool_results") or {})
        self.require_call = bool(results.get("require_call", False))
        lone = dict(spec.get("signature_only_reasoning") or {})
        self.attach_signature_as: str | None = lone.get("attach_as")
        cache = dict(spec.get("cache_points") or {})
        self.cache_point = (
            compile_template(cache["template"], ("messages", "cache_points", "template"))
            if "template" in cache
            else None
        )

    # -- the steps ------------------------------------------------------------------------------------------

    def apply(self, messages: list[dict[str, Any]], body: dict[str, Any], ctx: Context) -> None:
        leading = self._plain_conversation(messages) if self.plain_fast_path else None
        if leading is not None:
            self._apply_plain(messages, leading, body, ctx)
            return
        system_parts, rest = self._split_system(messages)
        if system_parts and self.system_to is not None:
            self._put_system(system_parts, body, ctx)
        turns: list[tuple[str, list[Any]]] = []
        call_names: dict[str, str] = {}
        roles = self.roles
        for index, message in rest:
            role = roles.get(message.get("role"))  # type: ignore[arg-type]
            if role is None:
                role = self._role(message, index)  # raises: the role is not supported
            rendered = self._render_parts(message, index, call_names, ctx)
            if not rendered:
                continue
            if self.merge and turns and turns[-1][0] == role:
                turns[-1][1].extend(rendered)
            else:
                turns.append((role, rendered))
        self._check_first_role(turns)
        self.put(body, [self.turn({"role": role, "parts": parts}, ctx) for role, parts in turns])

    def _plain_conversation(self, messages: list[dict[str, Any]]) -> int | None:
        """How many leading system messages there are, when the conversation is the usual one: every message a
        role and a string, system ones only at the start (one at most if only the first is lifted), roles this
        spec maps, no tool results. None for anything else, which takes the general path."""
        if self.text_part is None:
            return None
        lifting = self.system_to is not None
        system_roles, roles = self.system_roles, self.roles
        count = 0
        started = False
        for message in messages:
            if len(message) != 2 or type(message.get("content")) is not str:
                return None
            role = message.get("role")
            if lifting and role in system_roles:
                if started or (count and self.system_take == "first"):
                    return None  # a later system message: its own rules apply
                count += 1
                continue
            started = True
            if role in ("tool", "function") or role not in roles:
                return None
        return count

    def _apply_plain(
        self, messages: list[dict[str, Any]], leading: int, body: dict[str, Any], ctx: Context
    ) -> None:
        """What the general path gives a plain conversation, without its per-part bookkeeping."""
        render = self.text_part
        assert render is not None
        text_of = self.text_of
        if leading:  # what `_put_system` does with text parts that carry no cache mark
            assert self.system_to is not None
            texts = [messages[0]["content"]] if leading == 1 else [message["content"] for message in messages[:leading]]
            joined = texts[0] if leading == 1 else "\n\n".join(texts)
            value: Any = joined if self.system_format == "string" else [
                text_of(text) if text_of is not None else render({"type": "text", "text": text}, ctx)
                for text in texts]
            if self.system_of is not None and value is not None:
                value = self.system_of(value, joined)
            elif self.system_template is not None:
                value = self.system_template({"parts": value, "text": joined}, ctx)
            self.system_to(body, value)
        roles, merge = self.roles, self.merge
        turns: list[tuple[str, list[Any]]] = []
        for index in range(leading, len(messages)):
            message = messages[index]
            content = message["content"]
            if not content:
                continue
            role = roles[message["role"]]
            if text_of is not None:
                part = text_of(content)
            else:
                ctx.path = f"messages[{index}].content"
                part = render({"type": "text", "text": content}, ctx)
            if merge and turns and turns[-1][0] == role:
                turns[-1][1].append(part)
            else:
                turns.append((role, [part]))
        self._check_first_role(turns)
        turn_of = self.turn_of
        self.put(body, [turn_of(role, parts) if turn_of is not None else self.turn({"role": role, "parts": parts}, ctx)
                        for role, parts in turns])

    def _check_first_role(self, turns: list[tuple[str, list[Any]]]) -> None:
        if self.first_role is not None and turns and turns[0][0] != self.first_role:
            raise MappingError(
                f"messages: the conversation must start with a {self.first_role} turn for {self.provider} "
                f"(it starts with {turns[0][0]}); put a {self.first_role} message first",
                path="messages", provider=self.provider,
            )

    def _split_system(
        self, messages: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[tuple[int, dict[str, Any]]]]:
        lifted: list[dict[str, Any]] = []
        rest: list[tuple[int, dict[str, Any]]] = []
        leading = True
        lifting = self.system_to is not None
        system_roles = self.system_roles
        for index, message in enumerate(messages):
            if lifting and message.get("role") in system_roles:
                if leading or self.system_take == "all" or self.system_later == "merge":
                    if self.system_take == "first" and lifted:
                        rest.append((index, self._later_system(message, index)))
                    else:
                        lifted.extend(self._text_parts(message))
                    continue
                rest.append((index, self._later_system(message, index)))
                continue
            leading = False
            rest.append((index, message))
        return lifted, rest

    def _later_system(self, message: dict[str, Any], index: int) -> dict[str, Any]:
        if self.system_later == "user":
            return {**message, "role": "user"}
        if self.system_later == "keep":
            return message
        raise MappingError(
            f"messages[{index}]: a {message.get('role')} message after the conversation started is not supported "
            f"by {self.provider} (move it to the start)",
            path=f"messages[{index}]", provider=self.provider,
        )

    @staticmethod
    def _text_parts(message: dict[str, Any]) -> list[dict[str, Any]]:
        content = message.get("content")
        if content is None:
            return []
        if isinstance(content, str):
            return [{"type": "text", "text": content}]
        return [p for p in content if p.get("type") == "text"]

    def _put_system(self, parts: list[dict[str, Any]], body: dict[str, Any], ctx: Context) -> None:
        assert self.system_to is not None
        text_tpl = self.parts.get("text")
        cached = False
        for part in parts:  # (a loop, not any() over a generator: this runs on every request)
            if part.get("cache_control") is not None:
                cached = True
                break
        if self.system_format == "string" and not cached:
            value: Any = parts[0]["text"] if len(parts) == 1 else "\n\n".join([p["text"] for p in parts])
        else:
            value = []
            for part in parts:
                value.append(text_tpl(part, ctx) if text_tpl else part)
                if self.cache_point is not None and part.get("cache_control") is not None:
                    value.append(self.cache_point(part, ctx))  # a separate block after the marked one
        if self.system_template is not None:
            text = value if type(value) is str else "\n\n".join([p["text"] for p in parts])
            value = self.system_template({"parts": value, "text": text}, ctx)
        self.system_to(body, value)

    def _role(self, message: dict[str, Any], index: int) -> str:
        role = str(message.get("role"))
        mapped = self.roles.get(role)
        if mapped is None:
            raise MappingError(
                f"messages[{index}].role: role {role!r} is not supported by {self.provider}",
                path=f"messages[{index}].role", provider=self.provider,
            )
        return mapped

    def _render_parts(
        self, message: dict[str, Any], index: int, call_names: dict[str, str], ctx: Context
    ) -> list[Any]:
        role = message.get("role")
        content = message.get("content")
        if len(message) == 2 and type(content) is str and role not in ("tool", "function"):
            # The usual message (a role and plain text: nothing to order, attach or mark): its one text part.
            if not content:
                return []
            if self.text_of is not None:  # (specialized: it neither warns nor fails, so no path to set)
                return [self.text_of(content)]
            render_text = self.parts.get("text")
            if render_text is not None:
                ctx.path = f"messages[{index}].content"
                return [render_text({"type": "text", "text": content}, ctx)]
        raw: list[tuple[str, dict[str, Any], str]] = []
        for j, detail in enumerate(message.get("reasoning_details") or ()):
            kind = "redacted_reasoning" if detail.get("type") == "redacted_thinking" else "reasoning"
            raw.append((kind, detail, f"messages[{index}].reasoning_details[{j}]"))
        if role in ("tool", "function"):
            call_id = message.get("tool_call_id") or message.get("name") or ""
            name = call_names.get(call_id) or message.get("name")
            if self.require_call and call_id not in call_names:
                raise MappingError(
                    f"messages[{index}].tool_call_id: {call_id!r} answers no earlier assistant tool call",
                    path=f"messages[{index}].tool_call_id", provider=self.provider,
                )
            item = {"tool_call_id": call_id, "name": name, "content": _content_text(message.get("content")),
                    "is_error": message.get("is_error")}
            raw.append(("tool_result", item, f"messages[{index}]"))
        else:
            if isinstance(content, str):
                if content:
                    raw.append(("text", {"type": "text", "text": content}, f"messages[{index}].content"))
            elif content:
                for j, part in enumerate(content):
                    raw.append((str(part.get("type")), part, f"messages[{index}].content[{j}]"))
            if message.get("refusal"):
                raw.append(("refusal", {"text": message["refusal"]}, f"messages[{index}].refusal"))
        for j, call in enumerate(message.get("tool_calls") or ()):
            call_names[call.get("id", "")] = call.get("function", {}).get("name", "")
            raw.append(("tool_call", {**call, "position": j}, f"messages[{index}].tool_calls[{j}]"))
        if len(raw) > 1:  # (most messages have one part: nothing to order)
            raw.sort(key=lambda entry: self.rank.get(entry[0], len(PART_KINDS)))
        out: list[Any] = []
        signatures: list[str] = []  # signature-only reasoning waiting for the part that carries it
        for kind, item, where in raw:
            if self.attach_signature_as and kind == "reasoning" and _signature_only(item):
                signatures.append(str(item["signature"]))
                continue
            render = self.parts.get(kind)
            if render is None:
                if kind == "refusal":
                    continue
                raise MappingError(
                    f"{where}: {kind} content is not supported by {self.provider}", path=where, provider=self.provider
                )
            ctx.path = where + (".function.arguments" if kind == "tool_call" else "")
            out.append(render(item, ctx))
            if signatures:
                self._attach_signatures(out[-1:], signatures)
            if self.cache_point is not None and item.get("cache_control") is not None:
                out.append(self.cache_point(item, ctx))
        if signatures:
            self._attach_signatures(out[::-1], signatures)
        return out

    def _attach_signatures(self, candidates: list[Any], signatures: list[str]) -> None:
        """Set the first waiting signature on the first candidate part that has none yet."""
        key = self.attach_signature_as
        assert key is not None
        for part in candidates:
            if signatures and isinstance(part, dict) and key not in part:
                part[key] = signatures.pop(0)


def _signature_only(detail: dict[str, Any]) -> bool:
    """A reasoning detail that holds nothing but a signature (the provider put it on a content part)."""
    return bool(detail.get("signature")) and not detail.get("text") and not detail.get("data")


def _ranks(order: list[Any]) -> dict[str, int]:
    """`order` entries are a kind, a list of kinds that keep their relative order, or `*` (every kind not
    named); kinds not named sort where `*` is, or last."""
    rank: dict[str, int] = {}
    rest = len(order)
    for position, entry in enumerate(order):
        for kind in entry if isinstance(entry, list) else [entry]:
            if kind == "*":
                rest = position
            else:
                rank[str(kind)] = position
    return {kind: rank.get(kind, rest) for kind in PART_KINDS}


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
