"""Spec diagnostics: one problem, where it is, and what to do about it.

Every check reports into a `Diagnostics` collector instead of raising, so a spec author sees every problem
at once, sorted by place, each with a stable code (listed in specs/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import SpecError

CODES: dict[str, str] = {
    "SPEC001": "the file is not valid YAML",
    "SPEC002": "a mapping holds the same key twice",
    "SPEC003": "the document is not a mapping, or apiVersion / kind is not one this library reads",
    "SPEC010": "unknown key (the spec language is closed)",
    "SPEC011": "a required key is missing",
    "SPEC012": "a value has the wrong type",
    "SPEC013": "a string does not have the required form",
    "SPEC014": "a value is not one of the allowed choices",
    "SPEC015": "a value is out of its allowed bounds",
    "SPEC020": "`extends` names a spec that cannot be found",
    "SPEC021": "`extends` forms a cycle",
    "SPEC022": "metadata.name differs from the file name",
    "SPEC023": "an extending spec reads its base's environment variables (warning)",
    "SPEC030": "unknown transform / operator name",
    "SPEC031": "a transform's arguments do not match its schema",
    "SPEC032": "a path or JMESPath expression does not compile",
    "SPEC033": "two parameter rules write the same target",
    "SPEC034": "a map produces a value outside the unified enum",
    "SPEC035": "a parameter rule names a parameter the unified request does not have",
    "SPEC036": "a rule both maps a parameter and declares it unsupported",
    "SPEC037": "an endpoint path uses an unknown {placeholder}",
    "SPEC038": "a range has min greater than max",
    "SPEC039": "an override's model glob is empty or matches nothing useful",
    "SPEC040": "a template is malformed",
    "SPEC041": "a routing config lists the same model twice",
    "SPEC042": "a routing fallback names a model the routing config does not have",
    "SPEC043": "a routing entry names a provider that no spec on the search path has",
    "SPEC044": "a template gives a stream part or response piece the engine does not read",
    "SPEC045": "a response kind template that kind_by.present never names (warning)",
    "SPEC050": "a response or stream path reads nothing from the spec's own samples (<name>.tests.yaml) where "
    "they hold a key spelt almost like it (warning)",
    "SPEC051": "an event name or part kind the spec maps occurs in none of its samples, which hold one spelt almost "
    "like it (warning)",
}


@dataclass(slots=True, frozen=True, order=True)
class Diagnostic:
    """`file:line:col [SEVERITY] CODE path: message (hint: ...)`; lines and columns are 1-based."""

    file: str
    line: int
    col: int
    code: str
    path: str
    message: str
    severity: str = "ERROR"
    hint: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}"
        text = f"{where} [{self.severity}] {self.code} {self.path or '<root>'}: {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


class Diagnostics:
    """Collects diagnostics; `raise_if_errors()` turns them into one `SpecError`."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def add(
        self,
        file: str,
        mark: tuple[int, int],
        code: str,
        path: str,
        message: str,
        *,
        hint: str | None = None,
        severity: str = "ERROR",
    ) -> None:
        self.items.append(Diagnostic(file, mark[0], mark[1], code, path, message, severity, hint))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "ERROR"]

    def sorted(self) -> list[Diagnostic]:
        unique = {(d.file, d.line, d.col, d.code, d.path, d.message): d for d in self.items}
        return sorted(unique.values())

    def raise_if_errors(self, what: str) -> None:
        errors = [d for d in self.sorted() if d.severity == "ERROR"]
        if errors:
            raise SpecError(f"{what}: {len(errors)} error(s)", errors)
