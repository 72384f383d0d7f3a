"""The query encoder: the bundled model exported to ONNX at index build, giving the torch
model's vectors without importing torch on the query path."""

import subprocess
import sys

import numpy as np
import pytest

from assistant.index.onnx_encoder import mean_pooling_model

QUESTIONS = ["How much did world output contract in 2020?",
             "Which countries does the author single out in Central America?",
             "x " * 400]  # longer than the model window: truncated the same way


@pytest.mark.slow
def test_the_build_exports_an_onnx_encoder_that_matches_torch(real_assistant):
    embedder = real_assistant.embedder
    assert embedder.query_encoder == "onnx" and embedder.onnx_path.exists()
    onnx = embedder.query_vectors(QUESTIONS)
    torch_rows = np.asarray(embedder.model.get_text_embedding_batch(QUESTIONS))
    assert onnx.shape == torch_rows.shape == (3, 384)
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    assert (onnx * torch_rows).sum(axis=1).min() > 0.9999


@pytest.mark.slow
def test_answering_in_a_fresh_process_never_imports_torch(real_assistant):
    settings = real_assistant.settings
    code = (
        "import sys\n"
        "from assistant.chat import Assistant\n"
        "from assistant.config import Settings\n"
        f"a = Assistant(Settings(corpus_dir={str(settings.corpus_dir)!r}, "
        f"index_dir={str(settings.index_dir)!r}))\n"
        "answer = a.ask('How much did world output contract in 2020?')\n"
        "assert not answer.refused and answer.citations, answer\n"
        "print('torch' in sys.modules, a.embedder.query_encoder)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "onnx"]


def test_without_an_export_questions_fall_back_to_the_building_model(tmp_path):
    from assistant.index.embedding import load_embedder
    from tests.conftest import BUNDLED

    embedder = load_embedder(BUNDLED)
    embedder.models_dir = tmp_path / "models"  # nothing exported there
    assert embedder.query_encoder == "torch"
    hashed = load_embedder("hash:64")
    assert hashed.query_encoder == "hash" and hashed.onnx_path is None
    assert hashed.query_vectors(["a question"]).shape == (1, 64)


def test_only_plain_mean_pooling_models_are_exported(tmp_path):
    (tmp_path / "1_Pooling").mkdir()
    cfg = tmp_path / "1_Pooling" / "config.json"
    cfg.write_text('{"pooling_mode_mean_tokens": true, "pooling_mode_cls_token": false}')
    assert mean_pooling_model(tmp_path)
    cfg.write_text('{"pooling_mode_mean_tokens": false, "pooling_mode_cls_token": true}')
    assert not mean_pooling_model(tmp_path)
    cfg.unlink()
    assert not mean_pooling_model(tmp_path)
