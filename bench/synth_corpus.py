"""Seeded synthetic corpora derived from the real one (corpus/*.md), for scale benchmarks.

    python bench/synth_corpus.py OUT_DIR --paragraphs 10000 [--seed 7] [--per-file 500]

The text is perturbed, never copied whole: each synthetic document takes one real document's
sentences, shuffles them across paragraphs, changes numbers and years, swaps about one word in
eight for another word of the corpus vocabulary, and varies its section headings. Files are
split at ``--per-file`` paragraphs (about 100-250 KB each) and listed in a sources.toml.
The same seed and size always give the same bytes. Write to a directory outside the repo
(e.g. /tmp): generated corpora are never committed.
"""

from __future__ import annotations

import argparse
import random
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL_CORPUS = ROOT / "corpus"

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z“\"(])")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_WORD = re.compile(r"\b[a-z]{4,}\b")
_HEADING_PREFIXES = ["", "", "Notes on ", "Revisiting ", "Outlook: ", "Annex: ", "Focus on "]
_HEADING_SUFFIXES = ["", "", " (continued)", " in practice", " and its risks", " — regional view"]


@dataclass
class Source:
    """One real document reduced to what the generator draws from."""

    name: str
    title: str
    headings: list[str]
    sentences: list[str]
    paragraph_sizes: list[int]  # sentences per real paragraph


def _body(text: str) -> str:
    if text.startswith("---"):
        end = text.find("\n---", 3)
        return text[end + 4:] if end != -1 else text
    return text


def read_sources(corpus_dir: Path = REAL_CORPUS) -> list[Source]:
    """The prose of every Markdown file of the real corpus: headings and sentences."""
    sources = []
    for path in sorted(corpus_dir.glob("*.md")):
        title, headings, sentences, sizes = path.stem, [], [], []
        in_fence = False
        for block in re.split(r"\n\s*\n", _body(path.read_text("utf-8"))):
            block = block.strip()
            if block.startswith(":::"):
                in_fence = not block.endswith(":::") or block == ":::"
                continue
            if in_fence or not block or block.startswith("[^"):
                continue
            if block.startswith("#"):
                heading = block.lstrip("#").strip()
                if block.startswith("# "):
                    title = heading
                else:
                    headings.append(heading)
                continue
            for line in block.splitlines():  # list items are one paragraph per line
                parts = [s.strip() for s in _SENTENCE_END.split(line.strip()) if s.strip()]
                if parts:
                    sentences += parts
                    sizes.append(len(parts))
        sources.append(Source(path.stem, title, headings or [title], sentences, sizes))
    return [s for s in sources if s.sentences]


class Perturber:
    """Numbers, years and words changed with one seeded random generator."""

    def __init__(self, rng: random.Random, vocabulary: list[str], swap_rate: float = 0.12):
        self.rng, self.vocabulary, self.swap_rate = rng, vocabulary, swap_rate

    def _number(self, m: re.Match) -> str:
        s = m.group(0)
        if re.fullmatch(r"(19|20)\d\d", s):
            return str(self.rng.randint(1985, 2035))
        return re.sub(r"\d", lambda _: str(self.rng.randint(0, 9)), s).lstrip("0") or "0"

    def _word(self, m: re.Match) -> str:
        return self.rng.choice(self.vocabulary) if self.rng.random() < self.swap_rate else m.group(0)

    def sentence(self, text: str) -> str:
        return _WORD.sub(self._word, _NUMBER.sub(self._number, text))

    def heading(self, text: str, n: int) -> str:
        text = re.sub(r"\s*\(.*?\)\s*$", "", text)
        return (f"{self.rng.choice(_HEADING_PREFIXES)}{self.sentence(text)}"
                f"{self.rng.choice(_HEADING_SUFFIXES)} {n}").strip()


def _paragraphs(source: Source, p: Perturber, count: int) -> list[str]:
    """`count` paragraphs from the source's sentences, shuffled across its paragraphs."""
    out: list[str] = []
    pool: list[str] = []
    while len(out) < count:
        if not pool:
            pool = source.sentences[:]
            p.rng.shuffle(pool)
        size = min(p.rng.choice(source.paragraph_sizes), 4)
        taken, pool = pool[:size], pool[size:]
        out.append(" ".join(p.sentence(s) for s in taken))
    return out


def _document(source: Source, p: Perturber, index: int, count: int) -> str:
    title = f"{source.title} — synthetic edition {index}"
    lines = ["---", f'title: "{title}"', f'date: "{p.rng.randint(1995, 2030)}-0{p.rng.randint(1, 9)}-1{p.rng.randint(0, 9)}"',
             "---", "", f"# {title}", ""]
    paragraphs = _paragraphs(source, p, count)
    section = 0
    for i, text in enumerate(paragraphs):
        if i % p.rng.randint(6, 14) == 0:  # a heading every ~10 paragraphs (headings are paragraphs too)
            section += 1
            lines += [f"## {p.heading(p.rng.choice(source.headings), section)}", ""]
            continue
        lines += [text, ""]
    return "\n".join(lines)


def generate(out_dir: Path, paragraphs: int, seed: int = 7, per_file: int = 500,
             corpus_dir: Path = REAL_CORPUS) -> list[Path]:
    """Write about `paragraphs` paragraphs (headings included; the loader adds one front-matter
    card per file) into `out_dir`, split into files of `per_file`. Returns the files written."""
    out_dir = Path(out_dir)
    if out_dir.resolve().is_relative_to(ROOT):
        raise SystemExit(f"{out_dir} is inside the repository; write generated corpora elsewhere.")
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("synth-*.md"):
        old.unlink()
    sources = read_sources(corpus_dir)
    if not sources:
        raise SystemExit(f"No Markdown prose found in {corpus_dir} to derive a corpus from.")
    vocabulary = sorted({w for s in sources for t in s.sentences for w in _WORD.findall(t)})
    rng = random.Random(seed)
    perturber = Perturber(rng, vocabulary)
    files, toml = [], []
    remaining, index = paragraphs, 0
    while remaining > 0:
        index += 1
        count = min(per_file, remaining) - 1  # the front-matter card is a paragraph
        source = sources[(index - 1) % len(sources)]
        path = out_dir / f"synth-{index:04d}-{source.name[:24]}.md"
        path.write_text(_document(source, perturber, index, max(1, count)), "utf-8")
        files.append(path)
        toml += ["[[document]]", f'file = "{path.name}"', f'doc_id = "synth{index:04d}"',
                 f'short_title = "Synthetic {index}"', 'kind = "report"',
                 f'label_scope = "{"section" if index % 2 else "document"}"', ""]
        remaining -= per_file
    (out_dir / "sources.toml").write_text("\n".join(toml), "utf-8")
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--paragraphs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--per-file", type=int, default=500)
    args = parser.parse_args()
    files = generate(args.out_dir, args.paragraphs, args.seed, args.per_file)
    size = sum(f.stat().st_size for f in files)
    print(f"{len(files)} files, {size / 1e6:.1f} MB in {args.out_dir}")


if __name__ == "__main__":
    main()
