"""What a validation finding looks like, wherever it comes from (schema or rule)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Issue:
    """One error in one record: where (JSON Pointer), which rule, and why in Chinese and English."""

    pointer: str
    rule: str
    message_zh: str
    message_en: str

    def as_dict(self) -> dict[str, str]:
        return {"pointer": self.pointer, "rule": self.rule,
                "message_zh": self.message_zh, "message_en": self.message_en}


@dataclass(slots=True)
class Report:
    """The verdict on one record: valid when it has no issues."""

    entity: str
    issues: list[Issue] = field(default_factory=list)
    # Findings that do not make the record invalid (schema v2 with NATIONAL_REQUIRED = warn).
    warnings: list[Issue] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.issues

    def as_dict(self) -> dict:
        answer = {"entity": self.entity, "valid": self.valid,
                  "errors": [issue.as_dict() for issue in self.issues]}
        if self.warnings:
            answer["warnings"] = [issue.as_dict() for issue in self.warnings]
        return answer


def pointer(*parts: str | int) -> str:
    """Build a JSON Pointer (RFC 6901) from path parts, escaping ``~`` and ``/``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)
