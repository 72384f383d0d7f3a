"""Settings are typed: a wrong value is refused with the valid ones, never silently used."""

import pytest
from pydantic import ValidationError

from assistant.config import Settings
from assistant.errors import AssistantError
from assistant.retrieve import RetrievalConfig
from tests.test_cli import invoke_in_process


def test_an_unknown_backend_is_refused_with_the_valid_ones():
    with pytest.raises(ValidationError, match="'extractive', 'openai' or 'local'"):
        Settings(backend="gpt")
    assert Settings(backend="openai").backend == "openai"


def test_an_unknown_retrieval_mode_is_refused_with_the_valid_ones():
    with pytest.raises(AssistantError, match="Use one of: hybrid, dense, bm25"):
        RetrievalConfig(mode="hybird")
    assert RetrievalConfig(mode="bm25").mode == "bm25"


def test_the_cli_names_the_bad_setting_in_one_line(tmp_path):
    """Through the console script's entry point, in process (tests/test_cli.py runs
    `index status` once as a subprocess)."""
    env = {"ASSISTANT_BACKEND": "gpt", "ASSISTANT_INDEX_DIR": str(tmp_path)}
    res = invoke_in_process(["index", "status"], env)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    expected = ("error: setting backend (ASSISTANT_BACKEND): Input should be 'extractive', "
                "'openai' or 'local'.")
    assert res.stderr.strip().splitlines() == [expected]
