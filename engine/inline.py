"""Inline forms: a transform evaluated by the generated template's own lines instead of a call.

A template calling a small transform on every event (a `sum` of two token counts, `omit_empty` around a
one-field object, `require` of an absent field) spends more on the call than on the work. A transform may
declare an inline form beside its factory (`@inline("sum")`): a function of its arguments and its `in`
template that returns, when it can lower that shape, the emitter writing the same computation into the
template's generated function (templates.py); otherwise None and the transform is called. The inline form
is the transform's meaning written as lines, with the same order of evaluation, the same results and the
same errors (a failure calls the transform itself, which raises); its examples run through both
(tests/unit/test_inline_ops.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol


class InlineCode(Protocol):
    """What an inline form writes with (templates.py gives it)."""

    @property
    def apply(self) -> str:
        """The name bound to the transform's own closure (to call where the transform fails)."""

    def lower(self, template: Any, *steps: str | int) -> str:
        """Emit the lines evaluating `template` (below the call's `in`); return its expression."""

    @property
    def viewed(self) -> bool:
        """The item is read from view Structs (views.py), where a value may be kept as its JSON text."""

    def local(self, expression: str) -> str:
        """A local holding `expression` (the expression itself when it is one)."""

    def line(self, text: str) -> None: ...

    def text(self, local: str) -> None:
        """Say that the local `local` holds a str wherever it is assigned (`FunctionBuilder.texts`)."""

    def bind(self, value: Any) -> str: ...

    def temp(self) -> str: ...


Emit = Callable[[InlineCode], str]
"""Emit the lines and return the expression of the transform's value."""

InlineForm = Callable[[Mapping[str, Any], Any], Emit | None]
"""`form(args, source)`: the emitter for a call with `args` whose input is the template `source` (`WHOLE`:
the item itself), or None when that shape is not lowered inline."""

WHOLE = object()
"""The `in` of a call written without one: the template's item."""

INLINE: dict[str, InlineForm] = {}


def inline(name: str) -> Callable[[InlineForm], InlineForm]:
    """Declare the inline form of the transform `name` (beside its factory)."""

    def decorate(function: InlineForm) -> InlineForm:
        INLINE[name] = function
        return function

    return decorate


def is_object_template(template: Any) -> bool:
    """A template written as an object (not a `$op` / `$each` directive): it builds a dict of its fields that
    are not None."""
    return isinstance(template, dict) and "$op" not in template and "$each" not in template


ItemTest = Callable[[str, Callable[[Any], str]], str]
"""`test(local, bind)`: the expression telling that the field value in the local `local` makes an item count."""

ITEM_TESTS: dict[str, Callable[[Mapping[str, Any]], tuple[str, ItemTest] | None]] = {}
"""Transforms that keep the items of a list by one field of each (`select`) may declare that field and its
test: a response decoder reading views of the list's items (views.py, lower_decode.py) tests each item's field
and evaluates the transform, on the body decoded again as plain data, only when an item passes (most bodies
hold none)."""


def item_test(name: str) -> Callable[[Callable[[Mapping[str, Any]], tuple[str, ItemTest] | None]],
                                     Callable[[Mapping[str, Any]], tuple[str, ItemTest] | None]]:
    """Declare the item test of the transform `name` (beside its factory): `form(args)` gives (field, test),
    or None when those arguments have none."""

    def decorate(function: Callable[[Mapping[str, Any]], tuple[str, ItemTest] | None]
                 ) -> Callable[[Mapping[str, Any]], tuple[str, ItemTest] | None]:
        ITEM_TESTS[name] = function
        return function

    return decorate
