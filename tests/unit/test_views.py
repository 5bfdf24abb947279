"""View types (engine/views.py): events decoded into Structs holding only the fields the spec's mappings read.

The view type is derived from the paths read; a payload of any other shape decodes without error and reads as
"not an object", as the dict readers see it. (That the decoders read every recording through views as through
dicts: test_stream_fast_paths.py and test_whole_response_fast.py.)
"""

from __future__ import annotations

import msgspec

from vllora_llm.engine.views import EACH, view_type


def test_a_view_keeps_only_the_paths_read_and_reads_any_json() -> None:
    viewed = view_type([("a", "b"), ("items", EACH, "x"), ("whole",)])
    assert viewed is not None
    event_type, views = viewed
    decode = msgspec.json.Decoder(event_type).decode
    event = decode(b'{"a": {"b": 1, "c": [1, 2]}, "items": [{"x": 2, "y": 3}, 4], "whole": {"k": 5}, "z": 6}')
    root, root_fields = views[()]
    assert type(event) is root and set(root_fields) == {"a", "items", "whole"}
    a = getattr(event, root_fields["a"])
    assert type(a) is views[("a",)][0] and msgspec.structs.astuple(a) == (1,)  # `c` skipped
    items = getattr(event, root_fields["items"])
    assert type(items[0]) is views[("items", EACH)][0] and items[1] == 4
    assert getattr(event, root_fields["whole"]) == {"k": 5}  # read whole: a plain decoded value
    for other in (b"[1, 2]", b'"text"', b"3", b"2.5", b"true", b"null"):
        assert decode(other) == msgspec.json.decode(other)  # no view: what the dict readers get
    assert decode(b'{"items": {"x": 1}}').__getattribute__(root_fields["items"]) == {"x": 1}


def test_a_path_that_is_both_a_list_and_an_object_has_no_view() -> None:
    assert view_type([("items", EACH, "x"), ("items", "y")]) is None
