"""A finding's verdicts, the record of one judged claim, and the signal that a claim cannot be judged."""

from __future__ import annotations

from dataclasses import dataclass

TITLE = "Findings: the paper's claims checked on this study's outputs"
HOLDS, FAILS, UNJUDGED = "holds", "does not hold", "cannot be judged"


VERDICTS = (HOLDS, FAILS, UNJUDGED)


@dataclass(frozen=True)
class Finding:
    id: str
    claim: str
    verdict: str
    statement: str

    def markdown(self) -> str:
        return f"- **{self.verdict}** — {self.claim[:1].upper()}{self.claim[1:]}: {self.statement}"


class CannotJudge(Exception):
    """Raised while evaluating a finding: why it cannot be judged (a missing key, file, row or value)."""
