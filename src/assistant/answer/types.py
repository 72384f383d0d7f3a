"""The app's own answer types (no llama-index types past retrieve.py)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal, get_args

# The one fixed refusal phrase. The web chat, the CLI and the evaluation suite all use it.
REFUSAL = "The brief does not say."

MAX_QUESTION_CHARS = 1000
# A refusal lists the nearest retrieved paragraphs, uncited, so the reader can look for
# themselves: three fit beside the answer without crowding it.
NEAREST_ON_REFUSAL = 3


@dataclass
class Passage:
    """A retrieved paragraph (chunk hits collapsed to their paragraph)."""

    paragraph_id: str
    doc_id: str
    doc_title: str
    label: str
    kind: str
    section: str
    page: int | None
    text: str  # original display text of the whole paragraph
    score: float  # fused retrieval score, higher is better
    dense: float = 0.0  # cosine similarity of the best chunk
    footnote: str | None = None  # "footnote 1: WESP 2021, p. 116" when linked


@dataclass
class Citation:
    n: int
    paragraph_id: str
    doc_id: str
    doc_title: str
    label: str
    page: int | None
    section: str
    text: str
    score: float
    supported: bool = True
    footnote: str | None = None

    @classmethod
    def from_passage(cls, n: int, p: Passage, supported: bool = True) -> Citation:
        return cls(n, p.paragraph_id, p.doc_id, p.doc_title, p.label, p.page, p.section,
                   p.text, round(p.score, 4), supported, p.footnote)

    @property
    def display_label(self) -> str:
        """"Op-ed ¶9 → footnote 1: WESP 2021, p. 116" when the paragraph carries a footnote."""
        return f"{self.label} → {self.footnote}" if self.footnote else self.label


@dataclass
class Sentence:
    text: str  # without markers
    citations: list[int]  # the n of each citation supporting it
    supported: bool = True
    quote: str = ""  # the sentence of the cited paragraph it rests on, for highlighting


# The checks that refuse (see answer/policy.py), and the LLM declining from its passages.
RefusalCheck = Literal["unknown_subject", "subject_not_found", "off_topic", "premise_mismatch",
                       "figure_not_bound", "answer_type_absent", "weak_evidence", "model_refused"]


@dataclass(frozen=True)
class Refusal:
    """Why an answer was refused: which check fired, and what it saw."""

    check: RefusalCheck
    detail: str

    def __post_init__(self) -> None:
        if self.check not in get_args(RefusalCheck):
            raise ValueError(f"Unknown refusal check '{self.check}'. Use one of: "
                             f"{', '.join(get_args(RefusalCheck))}.")


@dataclass
class ShortAnswer:
    """A verbatim span of cited paragraph ``n`` that answers the question on its own."""

    text: str
    n: int


@dataclass
class Answer:
    question: str
    sentences: list[Sentence]
    citations: list[Citation]
    refused: bool
    backend: str
    timings_ms: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    resolved_question: str = ""  # the question after follow-up resolution
    refusal: Refusal | None = None  # set when refused
    short_answer: ShortAnswer | None = None

    @property
    def correction(self) -> bool:
        """A refusal that goes on with what the brief does state, cited."""
        return self.refused and bool(self.sentences)

    @property
    def text(self) -> str:
        """The answer with an inline [n] after each sentence."""
        parts = [REFUSAL] if self.refused else []
        if self.short_answer is not None and not self.refused:
            parts.append(f"{_sentence_case(self.short_answer.text)} [{self.short_answer.n}].")
        if self.refused and self.sentences:
            parts.append("It says:")
        for s in self.sentences:
            marks = "".join(f"[{n}]" for n in s.citations)
            parts.append(f"{s.text} {marks}".strip())
        return " ".join(parts)

    def to_json(self, qid: str | None = None) -> dict:
        """The JSON of `assistant ask --json` (see DESIGN.md)."""
        data = {
            "id": qid,
            "question": self.question,
            "answer": self.text,
            "refused": self.refused,
            "citations": [asdict(c) for c in self.citations],
            "short_answer": asdict(self.short_answer) if self.short_answer else None,
            "refusal": asdict(self.refusal) if self.refusal else None,
            "backend": self.backend,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }
        if self.sentences:
            data["sentences"] = [asdict(s) for s in self.sentences]
        if self.warnings:
            data["warnings"] = self.warnings
        return data


def refusal_answer(question: str, passages: list[Passage], backend: str,
                   refusal: Refusal) -> Answer:
    """A refusal with the nearest passages attached, marked unsupported (not citations)."""
    nearest = [Citation.from_passage(n, p, supported=False)
               for n, p in enumerate(passages[:NEAREST_ON_REFUSAL], 1)]
    return Answer(question, [], nearest, True, backend, refusal=refusal)


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:] if text[:1].islower() else text
