"""Responses objects' `.type`: each tagged class's tag (what `to_dict()` writes), read from the class; the untagged
bases have none, and asking one first does not change what their subclasses say."""

from __future__ import annotations

import copy
import json
import typing

import pytest

from vllora_llm.engine.errors import InvalidRequestError
from vllora_llm.engine.responses_types import (
    FunctionCallItem,
    McpCallCompletedEvent,
    OtherOutputItem,
    OtherStreamEvent,
    OutputItem,
    OutputItemDoneEvent,
    Response,
    ResponseStreamEvent,
    StreamEvent,
    Tagged,
    ToolProgressEvent,
    WebSearchCallSearchingEvent,
)

TAGGED = [cls for cls in (*typing.get_args(OutputItem), *typing.get_args(ResponseStreamEvent))
          if cls not in (OtherOutputItem, OtherStreamEvent)]


@pytest.mark.parametrize("cls", TAGGED, ids=[cls.__name__ for cls in TAGGED])
def test_type_is_the_tag_that_to_dict_writes(cls: type[Tagged]) -> None:
    assert cls.type == cls.__struct_config__.tag
    assert "type" not in cls.__struct_fields__  # a tag, not a field: nothing to fill in


def test_untagged_bases_have_no_type_and_leave_their_subclasses_theirs() -> None:
    for base in (ToolProgressEvent, StreamEvent, Tagged):
        assert not hasattr(base, "type")
    event = McpCallCompletedEvent(sequence_number=3, item_id="mcp_1", output_index=0)
    assert event.type == "response.mcp_call.completed" == event.to_dict()["type"]
    assert WebSearchCallSearchingEvent.type == "response.web_search_call.searching"


def test_objects_kept_whole_say_the_type_they_were_sent_with() -> None:
    item = OtherOutputItem(data={"type": "teleport_call", "id": "tp_1", "status": "completed"})
    assert (item.type, item.id, item.to_dict()) == ("teleport_call", "tp_1", item.data)
    event = OtherStreamEvent(sequence_number=7, data={"type": "response.teleport.delta", "sequence_number": 7})
    assert (event.type, event.to_dict()) == ("response.teleport.delta", event.data)
    assert OtherOutputItem(data={"type": "x"}).id is None


TELEPORT = {"type": "teleport_call", "id": "tp_1", "status": "completed", "destination": {"planet": "Mars"}}
CALL = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": "{}",
        "status": "completed"}


def test_from_dict_keeps_an_item_of_an_unknown_type_whole_as_decoding_does() -> None:
    given = {"id": "resp_1", "created_at": 1.0, "model": "m", "output": [TELEPORT, CALL]}
    before = copy.deepcopy(given)
    response = Response.from_dict(given)
    other, call = response.output
    assert isinstance(other, OtherOutputItem) and isinstance(call, FunctionCallItem)
    assert (other.type, other.id, other.data) == ("teleport_call", "tp_1", TELEPORT)
    assert given == before  # the caller's dict is left as it was
    assert response.to_dict()["output"] == [TELEPORT, CALL]
    assert Response.from_dict(response.to_dict()) == response  # round-trips, through JSON too
    assert Response.from_json(response.to_json()) == response
    assert Response.from_json(json.dumps(given)) == response
    event = OutputItemDoneEvent.from_dict({"type": "response.output_item.done", "sequence_number": 3,
                                           "output_index": 0, "item": TELEPORT})
    assert isinstance(event.item, OtherOutputItem) and event.to_dict()["item"] == TELEPORT


def test_from_dict_still_names_the_field_of_a_malformed_known_item() -> None:
    broken = {key: value for key, value in CALL.items() if key != "call_id"}
    for convert in (Response.from_dict, lambda data: Response.from_json(json.dumps(data))):
        with pytest.raises(InvalidRequestError, match=r"output\[1\]\.call_id"):
            convert({"id": "resp_1", "created_at": 1.0, "model": "m", "output": [TELEPORT, broken]})
