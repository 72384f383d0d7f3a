"""The question set (eval/qa.jsonl), with each gold quote resolved to a paragraph ID.

Gold is written as exact quotes, not IDs, so the set survives renumbering; each quote must
match exactly one paragraph of the corpus (normalised substring match, bullets unified). A
quote that matches none, or several, is an error naming the item and the quote, so an edit to
the corpus can never silently break the set. When a quote matches several paragraphs but is the
*whole* text of exactly one of them (a title that is also a heading), that one is taken."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from assistant.corpus.loader import Corpus
from assistant.corpus.models import Paragraph
from assistant.corpus.text import normalise
from assistant.errors import AssistantError

DEFAULT_QA = Path("eval/qa.jsonl")
SPLITS = ("dev", "test", "all")
UNANSWERABLE_TYPES = frozenset({"unanswerable", "false_premise"})
PERTURBATION_SEED = 13


class DatasetError(AssistantError):
    pass


@dataclass(frozen=True)
class Item:
    id: str
    split: str
    type: str
    question: str
    history: tuple[dict, ...]
    facts: tuple[tuple[str, ...], ...]  # each fact: its aliases
    reference: str
    gold: tuple[str, ...]  # paragraph IDs, in the order of the quotes
    related: tuple[str, ...]  # paragraphs near the topic of an unanswerable question
    paraphrase_of: str | None = None  # the id of the item this one rephrases
    perturbation: str | None = None  # none | entity | figure | year (generated items)
    group: str | None = None  # items that must get the same outcome (an item and its paraphrases)

    @property
    def answerable(self) -> bool:
        return self.type not in UNANSWERABLE_TYPES


def match_key(text: str) -> str:
    """Normalised, lower-cased, "•"/"·" unified; outer bullets and spaces dropped."""
    return normalise(text).replace("•", "·").lower().strip(" ·")


def resolve_quote(quote: str, paragraphs: list[Paragraph]) -> str:
    """The ID of the one paragraph that contains the quote; ValueError if none or several."""
    key = match_key(quote)
    hits = [p for p in paragraphs if key and key in match_key(p.text)]
    if len(hits) > 1:
        whole = [p for p in hits if match_key(p.text) == key]
        hits = whole if len(whole) == 1 else hits
    if not hits:
        raise ValueError("matches no paragraph")
    if len(hits) > 1:
        raise ValueError(f"matches {len(hits)} paragraphs ({', '.join(p.id for p in hits)})")
    return hits[0].id


def load_items(corpus: Corpus, split: str = "all", path: Path = DEFAULT_QA) -> list[Item]:
    """Every item of the split, gold resolved against the corpus; DatasetError lists every
    problem at once."""
    if split not in SPLITS:
        raise DatasetError(f"Unknown split '{split}'. Use one of: {', '.join(SPLITS)}.")
    try:
        lines = Path(path).read_text("utf-8").splitlines()
    except OSError as exc:
        raise DatasetError(f"Cannot read the question set {path}: {exc.strerror}.") from None
    raws, problems = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raws.append(json.loads(line))
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{number}: not valid JSON ({exc})")
    items = parse_items(raws, corpus, str(path), problems)
    return [i for i in items if split == "all" or i.split == split]


def parse_items(raws: list[dict], corpus: Corpus, source: str, problems: list[str] | None = None) -> list[Item]:
    """Items from their JSON objects, gold and related quotes resolved to paragraph IDs."""
    problems = [] if problems is None else problems
    paragraphs = corpus.paragraphs
    items = []
    for number, raw in enumerate(raws, 1):
        try:
            qid, _, _ = raw["id"], raw["type"], raw["question"]
        except (KeyError, TypeError) as exc:
            problems.append(f"{source}: item {number}: not a JSON object with id, type and "
                            f"question ({exc})")
            continue
        resolved: dict[str, list[str]] = {"gold": [], "related": []}
        for field, ids in resolved.items():
            for quote in raw.get(field) or []:
                try:
                    ids.append(resolve_quote(quote, paragraphs))
                except ValueError as exc:
                    problems.append(f"{qid}: {field} quote {quote!r} {exc}")
        if raw.get("split") not in ("dev", "test"):
            problems.append(f"{qid}: split must be 'dev' or 'test', not {raw.get('split')!r}")
        items.append(Item(
            id=qid, split=raw.get("split", ""), type=raw["type"], question=raw["question"],
            history=tuple(raw.get("history") or ()),
            facts=tuple(tuple(aliases) for aliases in raw.get("facts") or ()),
            reference=raw.get("reference", ""), gold=tuple(dict.fromkeys(resolved["gold"])),
            related=tuple(dict.fromkeys(resolved["related"])),
            paraphrase_of=raw.get("paraphrase_of"), perturbation=raw.get("perturbation"),
            group=raw.get("group") or raw.get("paraphrase_of") or qid))
    if problems:
        raise DatasetError(f"{source} does not match the corpus:\n  " + "\n  ".join(problems))
    ids = [i.id for i in items]
    if len(set(ids)) != len(ids):
        raise DatasetError(f"{source}: duplicate ids {sorted({i for i in ids if ids.count(i) > 1})}")
    return items


def perturbation_items(corpus: Corpus, nlp, seed: int = PERTURBATION_SEED) -> list[Item]:
    """The generated perturbation suite (see ``evaluate/perturb.py``), as items."""
    from assistant.evaluate.perturb import generate  # perturb imports this module

    return parse_items(generate(corpus, nlp, seed=seed), corpus, f"perturbations (seed {seed})")
