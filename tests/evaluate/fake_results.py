"""Fabricated items, answers and result rows for the aggregation and report tests: rows are
built with the real ``score_item`` and ``result_row`` (lexical support judge, no model)."""

from __future__ import annotations

from assistant.answer.types import Answer, Citation, Refusal, Sentence
from assistant.evaluate.dataset import Item
from assistant.evaluate.metrics import SupportJudge, score_item
from assistant.evaluate.runner import result_row

FACT = "4.3 per cent"
TEXT = "World gross product is estimated to have contracted by 4.3 per cent in 2020."
OTHER = "The report describes the pandemic as a once-in-a-century crisis."
JUDGE = SupportJudge(embed=None)


def make_item(qid: str, split: str = "test", type_: str = "numeric", group: str | None = None,
              paraphrase_of: str | None = None, perturbation: str | None = None) -> Item:
    answerable = type_ not in ("unanswerable", "false_premise")
    return Item(qid, split, type_, f"Question {qid}?", (), ((FACT,),) if answerable else (), "",
                ("d:1",) if answerable else (), (), paraphrase_of=paraphrase_of,
                perturbation=perturbation, group=group or paraphrase_of or qid)


def make_answer(refused: bool = False, facts: bool = True, check: str | None = None,
                ms: float = 20.0) -> Answer:
    """An answered (citing TEXT, or OTHER when facts=False) or refused answer."""
    if refused:
        return Answer("q", [], [], True, "extractive", timings_ms={"total": ms},
                      refusal=Refusal(check, "test") if check else None)
    text = TEXT if facts else OTHER
    return Answer("q", [Sentence(text, [1])], [Citation(1, "d:1", "d", "Doc", "¶1", None, "", text, 1.0)],
                  False, "extractive", timings_ms={"retrieve": ms / 2, "total": ms})


def make_row(qid: str, split: str = "test", type_: str = "numeric", *, refused: bool = False,
             facts: bool = True, check: str | None = None, group: str | None = None,
             paraphrase_of: str | None = None, perturbation: str | None = None,
             ms: float = 20.0) -> dict:
    item = make_item(qid, split, type_, group, paraphrase_of, perturbation)
    answer = make_answer(refused, facts, check, ms)
    return result_row(item, answer, ["d:1"], score_item(item, answer, ["d:1"], JUDGE))


def group_rows(original: str, split: str = "test", type_: str = "numeric",
               outcomes: tuple[dict, dict, dict] = ({}, {}, {})) -> list[dict]:
    """An original and its two paraphrases, each with make_row keyword arguments."""
    ids = [original, f"{original}-p1", f"{original}-p2"]
    return [make_row(qid, split, type_, paraphrase_of=None if n == 0 else original, **kw)
            for n, (qid, kw) in enumerate(zip(ids, outcomes))]


def fabricated_rows() -> list[dict]:
    """Both splits: per split an answerable group (test: one paraphrase refused), an
    unanswerable group, a new false premise, and a perturbation group (none + entity + year)."""
    rows = []
    for split in ("dev", "test"):
        s = split[0]
        wobble = {"refused": True, "check": "answer_type_absent"} if split == "test" else {}
        rows += group_rows(f"num-{s}1", split, "numeric", ({}, {}, wobble))
        rows += group_rows(f"unans-{s}1", split, "unanswerable",
                           ({"refused": True, "check": "unknown_subject"},
                            {"refused": True, "check": "unknown_subject"},
                            {"refused": True, "check": "off_topic"}))
        rows.append(make_row(f"fp2-{s}1", split, "false_premise", refused=split == "dev",
                             check="premise_mismatch" if split == "dev" else None))
        group = f"pert-{s}01"
        rows.append(make_row(f"{group}-none", split, "numeric", group=group, perturbation="none"))
        rows.append(make_row(f"{group}-entity", split, "false_premise", group=group,
                             perturbation="entity", refused=True, check="subject_not_found"))
        rows.append(make_row(f"{group}-year", split, "false_premise", group=group,
                             perturbation="year", ms=90.0))
    return rows
