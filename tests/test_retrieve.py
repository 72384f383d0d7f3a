"""The retriever's pure helpers (no index)."""

from types import SimpleNamespace

from assistant.retrieve import _each_document_first


def test_named_documents_move_up_and_ties_keep_their_ranked_order():
    # 20 paragraphs of "a" with one score, then 2 of "b": a set of them iterates in an order
    # that depends on the hash seed, so only keeping `ranked`'s order makes this pass
    ranked = [(f"a:{i}", 0.5) for i in range(20)] + [("b:0", 0.4), ("b:1", 0.3)]
    paragraphs = {pid: SimpleNamespace(doc_id=pid.split(":")[0]) for pid, _ in ranked}
    out = _each_document_first(ranked, ["a", "b"], paragraphs, k=8, each=2)
    # on top, in score order: the 4 best of all (k less the 4 kept) and b's two best
    assert out == ranked[:4] + [("b:0", 0.4), ("b:1", 0.3)] + ranked[4:20]
