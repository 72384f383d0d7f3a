"""The Assistant with the openai backend against a scripted OpenAI-compatible server on
127.0.0.1: streaming, citation checking and renumbering, fallbacks."""

import pytest

from assistant.chat import Assistant
from tests.answer.test_llm_backends import MODEL, server  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow
QUESTION = "How many people were pushed into poverty in Latin America?"


@pytest.fixture
def llm_assistant(real_assistant, server):  # noqa: F811
    settings = real_assistant.settings.model_copy(update={"llm_base_url": server.url,
                                                          "llm_model": MODEL, "backend": "openai"})
    assistant = Assistant(settings, embedder_factory=lambda *a: real_assistant.embedder)
    assistant.embed_sentences = real_assistant.embed_sentences
    return assistant


def _passage_number(assistant, label_start: str, question: str = QUESTION) -> int:
    passages = assistant.search(question, k=8)
    return next(i for i, p in enumerate(passages, 1) if p.label.startswith(label_start))


def test_streamed_llm_answer_is_checked_and_renumbered(llm_assistant, server):  # noqa: F811
    n = _passage_number(llm_assistant, "WESP 2021 digest — Latin America and the Caribbean ¶5")
    server.replies.append(f"About 45 million people in the region were pushed into poverty [{n}]. "
                          f"That erased the progress of the previous 30 years [{n}].")
    events = list(llm_assistant.stream(QUESTION))
    answer = events[-1]
    streamed = "".join(e for e in events[:-1])
    assert streamed.startswith("About 45 million") and len(events) > 3  # word by word
    assert answer.backend == "openai" and not answer.refused
    assert [c.n for c in answer.citations] == [1]  # renumbered from n to 1
    assert answer.citations[0].label.endswith("Latin America and the Caribbean ¶5")
    first, second = answer.sentences
    assert first.supported and first.citations == [1]
    assert not second.supported  # "30 years" is not in the cited paragraph (it says 15)
    assert answer.text.startswith("About 45 million people")


def test_llm_answer_with_no_supported_sentence_falls_back(llm_assistant, server):  # noqa: F811
    server.replies.append("The capital of France is Paris [1]. Growth was 99 per cent [2].")
    answer = llm_assistant.ask(QUESTION)
    assert answer.backend == "extractive"
    assert "45 million" in answer.text
    assert any("no sentence supported" in w for w in answer.warnings)


def test_unreachable_server_falls_back_with_a_warning(real_assistant):
    settings = real_assistant.settings.model_copy(update={
        "llm_base_url": "http://127.0.0.1:9/v1", "llm_model": "m", "backend": "openai"})
    assistant = Assistant(settings, embedder_factory=lambda *a: real_assistant.embedder)
    answer = assistant.ask(QUESTION)
    assert answer.backend == "extractive" and "45 million" in answer.text
    assert any("http://127.0.0.1:9/v1" in w for w in answer.warnings)
    assert assistant.available_backends()[0] == "extractive"
    assert "openai" not in assistant.available_backends()


def test_a_server_failing_after_its_check_falls_back_with_a_warning(llm_assistant, server):  # noqa: F811
    """The server answers /models (the check passes) but fails the generation itself."""
    server.replies += [503, 503, 503]
    answer = llm_assistant.ask(QUESTION)
    assert answer.backend == "extractive" and "45 million" in answer.text
    assert any(server.url in w and "unreachable" in w for w in answer.warnings)


def test_llm_refusal_uses_the_fixed_phrase(llm_assistant, server):  # noqa: F811
    server.replies.append("The brief does not say.")
    answer = llm_assistant.ask("What is the capital of Australia?")
    assert answer.refused and answer.text == "The brief does not say."


@pytest.mark.parametrize("question, check", [
    ("Why did Mexico block Okonjo-Iweala?", "premise_mismatch"),
    ("Why did Emmanuel Macron praise the G20?", "unknown_subject"),
    ("Why did Latin America's GDP fall by 12 per cent in 2020?", "figure_not_bound"),
])
def test_the_policy_runs_before_generation_and_its_verdict_stands(llm_assistant, server,  # noqa: F811
                                                                   question, check):
    server.replies.append("Because it wanted to [1].")  # what a model would happily write
    answer = llm_assistant.ask(question)
    assert answer.refused and answer.refusal.check == check
    assert answer.text.startswith("The brief does not say.")
    assert "Because it wanted to" not in answer.text
    assert not server.chat_requests()  # the model was never asked
