"""Lexical evidence shared by the answerer, the refusal checks and citation checking:
content terms, numbers and named entities of a text."""

from __future__ import annotations

import re

from assistant.corpus.text import normalise

STOPWORDS = frozenset(["a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "according", "say", "says", "said", "tell", "me", "give", "explain", "describe", "brief", "report", "op", "ed", "oped", "article", "digest", "author", "document", "text", "un", "per", "cent", "percent", "much", "many", "whose", "kind", "sort", "op-ed"])
QUESTION_WORDS = frozenset(["what", "which", "who", "whom", "whose", "when", "where", "why", "how"])
_TERM = re.compile(r"[a-z][a-z0-9'-]*[a-z0-9]|[a-z]")
_NUMBER = re.compile(r"(?<![\w-])(?<!\d\.)(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?![\w])")
_ENTITY = re.compile(r"\b([A-Z][a-zA-Z'’´-]+(?:\s+(?:and\s+the\s+|of\s+the\s+|of\s+)?[A-Z][a-zA-Z'’´-]+)*)")
_NOT_ENTITIES = frozenset(["What", "Which", "Who", "Whom", "Whose", "When", "Where", "Why", "How", "Does", "Do", "Did", "Is", "Are", "Was", "Were", "Can", "Could", "Should", "Would", "Will", "The", "A", "An", "And", "In", "On", "Of", "For", "To", "By", "According", "Tell", "Give", "List", "Name", "Explain", "Describe", "Compare", "If", "I", "It", "This", "That", "These", "Those", "Please", "Summarise", "Summarize", "Also", "Then", "So"])


def stem(word: str) -> str:
    """A light English stemmer: enough to match "countries"/"country", "lockdowns"/"lockdown"."""
    if "-" in word:
        return word
    if word.endswith(("ss", "us", "is")):  # "crisis", "stimulus", "business" keep their s
        return word
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + repl
    return word


IRREGULAR = {"fell": "fall", "fallen": "fall", "rose": "rise", "risen": "rise", "grew": "grow",
             "grown": "grow", "shrank": "shrink", "shrunk": "shrink", "lost": "lose",
             "struck": "strike", "gave": "give", "given": "give", "saw": "see", "seen": "see",
             "took": "take", "taken": "take", "made": "make", "kept": "keep", "became": "become",
             "began": "begin", "begun": "begin", "withdrawal": "withdraw", "won": "win",
             "loss": "lose", "losses": "lose"}


def terms(text: str) -> list[str]:
    """Stemmed content words (no stopwords, no numbers; irregular verb forms unified)."""
    words = _TERM.findall(normalise(text).lower().replace("'s ", " "))
    out = []
    for w in words:
        w = w.strip("'")
        if w not in STOPWORDS and len(w) > 1:
            out.append(IRREGULAR.get(w) or stem(w))
    return out


def numbers(text: str) -> set[str]:
    """Numbers as comparable strings: "2,412" -> "2412", "8.0" -> "8", "81%" -> "81"."""
    out = set()
    for m in _NUMBER.finditer(normalise(text)):
        value = m.group(1).replace(",", "")
        if "." in value:
            value = value.rstrip("0").rstrip(".")
        out.add(value)
    return out


_PAGE_REF = re.compile(r"\b(?:pp?\.|page)\s*(\d+)", re.IGNORECASE)


def figures(text: str) -> set[str]:
    """Numbers that state a quantity: not years, not page references ("p. 81")."""
    pages = set(_PAGE_REF.findall(normalise(text)))
    return numbers(text) - years(text) - pages


def years(text: str) -> set[str]:
    return {n for n in numbers(text) if len(n) == 4 and n.startswith(("19", "20"))}


def entities(text: str) -> list[str]:
    """Capitalised names in a question ("East Asia", "Okonjo-Iweala", "Trump"), without the
    question words that start a sentence."""
    found = []
    text = normalise(text)
    for m in _ENTITY.finditer(text):
        words = m.group(1).split()
        starts_sentence = not text[: m.start()].strip() or text[: m.start()].rstrip()[-1] in ".?!:;"
        if starts_sentence and len(words) == 1 and not words[0].isupper():
            continue  # "Despite ...", "Once ...": a capital because the sentence starts there
        while words and words[0] in _NOT_ENTITIES:
            words = words[1:]
        for name in re.split(r"'s\s+", " ".join(words)):  # "WTO's Appellate Body" -> two names
            name = re.sub(r"('s|-)$", "", name)
            name = re.sub(r"^([A-Z]{2,})s$", r"\1", name)  # "SDGs" -> "SDG"
            if name and name not in _NOT_ENTITIES:
                found.append(name)
    return found


_CAPITALISED_RUN = re.compile(r"\b[A-Z][a-z]+(?:\s+(?:of\s+|and\s+|the\s+)*[A-Z][a-z]+)+")


def acronym(phrase: str) -> str:
    """"World Trade Organization" -> "wto" (initials of the capitalised words)."""
    return "".join(w[0] for w in phrase.split() if w[:1].isupper()).lower()


def with_acronyms(text: str) -> str:
    """Lower-cased text followed by the acronyms of its capitalised names, so "WTO" in a
    question matches "World Trade Organization" in a paragraph."""
    extra = [acronym(m.group(0)) for m in _CAPITALISED_RUN.finditer(text)]
    return normalise(text).lower() + " " + " ".join(a for a in extra if len(a) >= 2)


def mentions(name: str, text_with_acronyms: str) -> bool:
    """Is `name` (an entity of the question) mentioned, by name or acronym, in the text?"""
    name = normalise(name).lower()
    if re.search(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])", text_with_acronyms):
        return True
    initials = acronym(name.title()) if " " in name else ""
    return len(initials) >= 2 and re.search(rf"\b{initials}\b", text_with_acronyms) is not None
