"""The knobs of the extractive answerer and the refusal policy, in one place.

Unless a field's comment says otherwise, its value was set by hand while tuning on the dev
split (the test split is the held-out measure and tunes nothing). Fields marked "general
English" are parse heuristics about how English sentences are built, not fitted to the corpus.
The weak-evidence model's weights and threshold are fitted separately, on dev, and live in
``refusal_model.json`` (refit with ``bench/calibrate_refusal.py``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnswerConfig:
    """Passed to ``ExtractiveAnswerer``, which hands it to the policy on the ``Evidence``."""

    # -- evidence: which paragraphs are read -----------------------------------------------------
    max_passages: int = 6  # retrieved non-heading paragraphs whose sentences become candidates
    # paragraphs added when no retrieved one names the question's subject (half of max_passages)
    naming_passages: int = 3

    # -- candidate scores -------------------------------------------------------------------------
    w_semantic: float = 0.55  # weight of the cosine to the question (unit and paragraph)
    w_lexical: float = 0.45  # weight of the IDF-weighted share of the question's terms stated
    w_rank: float = 0.06  # weight of the retrieval rank, as 1 / (1 + rank)
    type_bonus: float = 0.06  # a unit holding a span of the expected answer type
    meta_bonus: float = 0.25  # a byline/metadata/caption unit on a question about the document
    context_share: float = 0.35  # weight of the unit's paragraph in its score
    # a noun a figure must be about is specific when at most one paragraph in this many uses it
    # ("poverty" says a lot, "economy" little)
    specific_rarity: int = 6
    # share of what the question says a figure measures that its sentence must name too
    measured_share: float = 0.5

    # -- choosing the answer's units --------------------------------------------------------------
    max_sentences: int = 3  # sentences in an answer (more only for sub-questions, named things)
    max_sentences_list: int = 6  # ... when the question asks for a list
    # further sentences kept when within this ratio of the best
    # (dev: 0.8 -> 0.6 raised key facts 0.794 -> 0.817)
    keep_ratio: float = 0.6
    duplicate_cosine: float = 0.93  # a sentence this close to one already chosen repeats it
    # a named document's or alternative name's own unit is added if it scores this share of the best
    companion_ratio: float = 0.5
    # content terms another document's sentence with the same figure must share to be cited too
    corroboration_terms: int = 2

    # -- overview summaries -----------------------------------------------------------------------
    summary_sentences: int = 3  # per document, for overview questions
    summary_lambda: float = 0.7  # MMR: centrality vs novelty
    summary_section_bonus: float = 0.1  # MMR gain for a section not used yet (spreads the picks)

    # -- short answers ----------------------------------------------------------------------------
    lexical_decimals: int = 2  # lexical shares equal to this many decimals tie (nearness decides)
    # parse windows (general English)
    year_after_gap: int = 3  # tokens between a figure and its year ("2.6 per cent in 2022": 1)
    words_near_reach: int = 3  # parse-tree edges within which a question word is near a span
    # tokens between two names read as one coordination ("X and former Liberian President Y")
    coordination_gap: int = 5
    counted_noun_gap: int = 2  # tokens between a cardinal and its noun ("45 million poor people": 1)

    # -- the refusal policy -----------------------------------------------------------------------
    min_predicate: float = 0.6  # IDF-weighted share of the question's predicate a sentence states
    some_predicate: float = 0.3  # the share that counts as stating part of it (half of the above)
    premise_min_terms: int = 2  # predicate words stated before another subject refutes the premise
    off_topic_min_words: int = 2  # off topic: this many words or more, and none in the corpus
    # lexical share with which a unit of the expected type answers without stating the predicate
    type_absent_lexical: float = 0.35
    # a directional verb and its nearest ancestors, this many tokens in all, are searched (with
    # their children) for a negation or hedge ("not", "unlikely") (general English)
    hedge_scope: int = 3
