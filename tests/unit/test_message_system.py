"""System lifting (`messages.system`): which system messages are lifted and what the others become.

A table: the spec's `take` and `later`, a conversation of roles, and what is lifted (by text) and what is left
for the turns (by role and text), or the error a later system message raises.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllora_llm.engine.errors import MappingError
from vllora_llm.engine.message_parts import PartRenderer
from vllora_llm.engine.message_system import SystemLifter
from vllora_llm.engine.messages import compile_messages
from vllora_llm.engine.transforms import Context

CONVERSATION = [("system", "s1"), ("developer", "s2"), ("user", "u1"), ("system", "s3"), ("assistant", "a1")]

ROWS: list[tuple[str, str, list[str], list[tuple[str, str]]]] = [
    # (take, later, lifted texts, the rest as (role, text))
    ("leading", "user", ["s1", "s2"], [("user", "u1"), ("user", "s3"), ("assistant", "a1")]),
    ("leading", "keep", ["s1", "s2"], [("user", "u1"), ("system", "s3"), ("assistant", "a1")]),
    ("leading", "merge", ["s1", "s2", "s3"], [("user", "u1"), ("assistant", "a1")]),
    ("all", "error", ["s1", "s2", "s3"], [("user", "u1"), ("assistant", "a1")]),
    ("first", "user", ["s1"], [("user", "s2"), ("user", "u1"), ("user", "s3"), ("assistant", "a1")]),
    ("first", "keep", ["s1"], [("developer", "s2"), ("user", "u1"), ("system", "s3"), ("assistant", "a1")]),
]


def _lifter(system: dict[str, Any]) -> SystemLifter:
    spec = {"system": system, "parts": {"text": {"text": "$text"}}}
    return SystemLifter(spec, "acme", PartRenderer(spec, "acme"))


def _messages() -> list[dict[str, Any]]:
    return [{"role": role, "content": text} for role, text in CONVERSATION]


def _split(system: dict[str, Any]) -> tuple[list[dict[str, Any]], list[tuple[int, dict[str, Any]]]]:
    """What the generated mapping lifts (as text parts) and leaves (each turn's index in the request and its
    message), read from a spec whose turns carry their role, text and request path."""
    spec = {"mode": "template", "system": {**system, "format": "parts"} if system else {}, "to": "turns",
            "roles": {r: r for r, _ in CONVERSATION}, "turn": {"role": "$role", "parts": "$parts"},
            "parts": {"text": {"type": "text", "text": "$text"}}}
    body: dict[str, Any] = {}
    compile_messages(spec, "acme")(_messages(), body, Context("acme"))
    texts = [text for _, text in CONVERSATION]
    rest = [(texts.index(turn["parts"][0]["text"]), {"role": turn["role"], "content": turn["parts"][0]["text"]})
            for turn in body["turns"]]
    return list(body.get("system") or []), rest


@pytest.mark.parametrize(("take", "later", "lifted", "rest"), ROWS, ids=[f"{r[0]}-{r[1]}" for r in ROWS])
def test_what_is_lifted_and_what_is_left(take: str, later: str, lifted: list[str], rest: list[tuple[str, str]]) -> None:
    parts, others = _split({"to": "system", "take": take, "later": later})
    assert [part["text"] for part in parts] == lifted
    assert [(message["role"], message["content"]) for _, message in others] == rest
    texts = [text for _, text in CONVERSATION]
    assert [index for index, _ in others] == [texts.index(text) for _, text in rest]  # its index in the request


def test_a_later_system_message_is_an_error_naming_it_by_default() -> None:
    with pytest.raises(MappingError, match=r"messages\[3\]: a system message after the conversation started"):
        _split({"to": "system"})


def test_without_a_target_nothing_is_lifted() -> None:
    parts, others = _split({})
    assert parts == [] and [m for _, m in others] == _messages()


@pytest.mark.parametrize(("system", "value"), [
    ({"format": "string"}, "s1\n\ns2"),
    ({"format": "parts"}, [{"text": "s1"}, {"text": "s2"}]),
    ({"format": "parts", "template": {"parts": "$parts"}}, {"parts": [{"text": "s1"}, {"text": "s2"}]}),
    ({"format": "parts", "template": {"joined": "$text"}}, {"joined": "s1\n\ns2"}),
    ({"format": "string", "template": {"joined": "$text", "none": "$name"}}, {"joined": "s1\n\ns2"}),
    ({"format": "parts", "template": {"parts": "$parts", "none": "$text.x"}}, {"parts": [{"text": "s1"},
                                                                                       {"text": "s2"}]}),
])
def test_the_lifted_value_has_the_declared_format(system: dict[str, Any], value: Any) -> None:
    lifter = _lifter({"to": "system", "later": "keep", **system})
    parts = [{"type": "text", "text": "s1"}, {"type": "text", "text": "s2"}]
    body: dict[str, Any] = {}
    lifter.put(parts, body, Context("acme"))
    assert body == {"system": value}


def test_a_turn_template_reads_only_what_a_turn_holds() -> None:
    """`role` and `parts` come from locals; any other key of the turn is absent (not a part's, say)."""
    spec = {"mode": "template", "to": "turns", "roles": {"user": "user"},
            "turn": {"role": "$role", "parts": "$parts", "name": "$name", "text": "$text"},
            "parts": {"text": {"text": "$text"}}}
    body: dict[str, Any] = {}
    compile_messages(spec, "acme")([{"role": "user", "content": "hi", "name": "n"}], body, Context("acme"))
    assert body == {"turns": [{"role": "user", "parts": [{"text": "hi"}]}]}


def _reference_split(messages: list[dict[str, Any]], take: str, later: str) -> tuple[list[str], Any]:
    """The lifting as `messages.system` documents it, written plainly: the lifted texts and the rest as
    (index, role, text), or the error a later system message raises."""
    lifted: list[str] = []
    rest: list[tuple[int, str, str]] = []
    leading = True
    for index, message in enumerate(messages):
        role, text = message["role"], message["content"]
        if role not in ("system", "developer"):
            leading = False
            rest.append((index, role, text))
        elif (take == "all" or later == "merge" or leading) and not (take == "first" and lifted):
            lifted.append(text)
        elif later == "user":
            rest.append((index, "user", text))
        elif later == "keep":
            rest.append((index, role, text))
        else:
            return lifted, ("error", index)
    return lifted, rest


@pytest.mark.parametrize("take", ["leading", "first", "all"])
@pytest.mark.parametrize("later", ["error", "user", "keep", "merge"])
@settings(max_examples=60, deadline=None)
@given(roles=st.lists(st.sampled_from(["system", "developer", "user", "assistant"]), min_size=1, max_size=6))
def test_the_generated_lifting_agrees_with_the_documented_one(take: str, later: str, roles: list[str]) -> None:
    """Every `take` and `later`, on any order of roles: what is lifted, and which messages become turns, in order,
    with which role and index (or which later system message is refused)."""
    messages = [{"role": role, "content": f"m{i}"} for i, role in enumerate(roles)]
    spec = {"mode": "template", "system": {"to": "system", "format": "parts", "take": take, "later": later},
            "to": "turns", "roles": {r: r for r in ("system", "developer", "user", "assistant")},
            "turn": {"role": "$role", "parts": "$parts"}, "parts": {"text": {"text": "$text"}}}
    body: dict[str, Any] = {}
    lifted, rest = _reference_split(messages, take, later)
    try:
        compile_messages(spec, "acme")(messages, body, Context("acme"))
    except MappingError as exc:
        assert isinstance(rest, tuple), exc
        assert exc.path == f"messages[{rest[1]}]"
        return
    assert [part["text"] for part in body.get("system") or []] == lifted
    assert [(turn["role"], part["text"]) for turn in body["turns"] for part in turn["parts"]] == \
        [(role, text) for _, role, text in rest]


TURN_ROWS: list[tuple[str, Any, bool, list[Any]]] = [
    # (id, the `turn` template, merge_consecutive_roles, the turns written)
    ("direct-merged", {"role": "$role", "parts": "$parts", "kind": "msg"}, True,
     [{"role": "user", "parts": [{"t": "u1"}, {"t": "u2"}], "kind": "msg"},
      {"role": "model", "parts": [{"t": "a1"}], "kind": "msg"},
      {"role": "user", "parts": [{"t": "u3"}], "kind": "msg"}]),
    ("direct-unmerged", {"role": "$role", "parts": "$parts"}, False,
     [{"role": "user", "parts": [{"t": "u1"}]}, {"role": "user", "parts": [{"t": "u2"}]},
      {"role": "model", "parts": [{"t": "a1"}]}, {"role": "user", "parts": [{"t": "u3"}]}]),
    ("nested-merged", {"who": "$role", "body": {"items": "$parts"}}, True,
     [{"who": "user", "body": {"items": [{"t": "u1"}, {"t": "u2"}]}},
      {"who": "model", "body": {"items": [{"t": "a1"}]}},
      {"who": "user", "body": {"items": [{"t": "u3"}]}}]),
]


@pytest.mark.parametrize(("turn", "merge", "expected"), [r[1:] for r in TURN_ROWS], ids=[r[0] for r in TURN_ROWS])
def test_turns_assembled_as_the_messages_come(turn: Any, merge: bool, expected: list[Any]) -> None:
    """A turn template holding the parts list itself is rendered when its turn starts and a merged message extends
    it in place; any other template renders each turn after the merging: the same turns either way (the kind's
    constant included, the empty message making no turn, the system message lifted in between)."""
    spec = {"mode": "template", "system": {"to": "system", "take": "all"}, "to": "turns",
            "roles": {"user": "user", "assistant": "model"}, "merge_consecutive_roles": merge, "turn": turn,
            "parts": {"text": {"t": "$text"}}}
    messages = [{"role": "user", "content": "u1"}, {"role": "system", "content": "s"}, {"role": "user", "content": ""},
                {"role": "user", "content": "u2"}, {"role": "assistant", "content": "a1"},
                {"role": "user", "content": "u3"}]
    body: dict[str, Any] = {}
    compile_messages(spec, "acme")(messages, body, Context("acme"))
    assert body == {"system": "s", "turns": expected}


@pytest.mark.parametrize("turn", [{"role": "$role", "parts": "$parts"}, {"r": "$role", "p": ["$parts"]}])
def test_first_role_checked_on_the_first_turn(turn: Any) -> None:
    spec = {"mode": "template", "to": "turns", "roles": {"user": "user", "assistant": "model"},
            "merge_consecutive_roles": True, "first_role": "user", "turn": turn, "parts": {"text": {"t": "$text"}}}
    mapping = compile_messages(spec, "acme")
    body: dict[str, Any] = {}
    mapping([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], body, Context("acme"))
    assert len(body["turns"]) == 2
    with pytest.raises(MappingError, match=r"must start with a user turn .*it starts with model"):
        mapping([{"role": "assistant", "content": "a"}, {"role": "user", "content": "q"}], {}, Context("acme"))


def test_a_transform_in_the_system_template_sees_the_path_the_mapping_started_with() -> None:
    """The lifted parts are written after the turns are rendered, but a transform in the system template sees
    `ctx.path` as it was when the mapping started (as if the lifting ran first); after it, the path is what the
    rendering left."""
    texts = {"$op": "drop_blank_items", "in": {"$each": "$parts", "as": "$item.text"}}
    spec = {"mode": "template", "to": "turns", "roles": {"user": "user"},
            "system": {"to": "system", "format": "parts", "template": {"texts": texts}},
            "turn": {"role": "$role", "parts": "$parts"}, "parts": {"text": {"text": "$text"}}}
    body: dict[str, Any] = {}
    ctx = Context("acme")
    ctx.path = "started"
    messages = [{"role": "system", "content": "s1"}, {"role": "system", "content": " "},
                {"role": "user", "content": "u1"}]
    compile_messages(spec, "acme")(messages, body, ctx)
    assert body["system"] == {"texts": ["s1"]}
    assert [(w.code, w.param) for w in ctx.warnings] == [("dropped_value", "started")]
