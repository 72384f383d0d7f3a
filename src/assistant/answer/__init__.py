"""Answers with paragraph citations: types, the extractive answerer, LLM backends,
citation checking and refusal."""
