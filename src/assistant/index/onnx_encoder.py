"""The query encoder without torch: the bundled model exported once to ONNX and run with ONNX
Runtime. It computes what sentence-transformers computes for a mean-pooling model (last hidden
state, mean over the attention mask, L2-normalised), so query vectors match the torch vectors
the index was built with (checked at export, cosine >= EXPORT_MIN_COSINE).

Why: importing torch and loading the model cost seconds on every cold start; answering needs one
384-d vector per question, which ONNX Runtime gives with a fraction of the import cost.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np

EXPORT_MIN_COSINE = 0.9999  # an export that drifts further from torch is not used
OPSET = 17
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def onnx_file(models_dir: Path, name: str, fingerprint: str) -> Path:
    """Where the export of one model version lives (keyed by the model's fingerprint)."""
    return Path(models_dir) / f"{name}-{fingerprint}.onnx"


def mean_pooling_model(model_dir: Path) -> bool:
    """True when the sentence-transformers model is plain mean pooling, which is all this
    encoder reproduces (other pooling modes keep the torch path)."""
    pooling = Path(model_dir) / "1_Pooling" / "config.json"
    if not pooling.exists():
        return False
    cfg = json.loads(pooling.read_text())
    others = [k for k, v in cfg.items() if k.startswith("pooling_mode_") and v
              and k != "pooling_mode_mean_tokens"]
    return bool(cfg.get("pooling_mode_mean_tokens")) and not others


class OnnxEncoder:
    """Tokenizer + ONNX Runtime session; `encode` returns L2-normalised float32 rows."""

    def __init__(self, path: Path, model_dir: Path, max_tokens: int = 256, threads: int = 1):
        # onnxruntime: loaded when the first question is embedded, not on `index status`
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.enable_padding()
        self._inputs = {i.name for i in self.session.get_inputs()}

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        encoded = self.tokenizer.encode_batch(list(texts))
        feeds = {
            "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
        }
        hidden = self.session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0]
        mask = feeds["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        return (pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
                ).astype(np.float32)


def export(model_dir: Path, target: Path, reference, samples: list[str],
           max_tokens: int = 256) -> float:
    """Export the transformer of `model_dir` to `target` (atomically) and return the lowest
    cosine between ONNX and `reference(samples)` (the torch encoder's vectors). The file is
    kept only if that cosine is at least EXPORT_MIN_COSINE; otherwise it is removed and
    ValueError says by how much it drifted. Needs torch and the `onnx` package (build time
    only)."""
    # torch and transformers: the export runs at build time only
    import torch
    from transformers import AutoModel

    class LastHiddenState(torch.nn.Module):  # keyword inputs, one tensor out
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    model = AutoModel.from_pretrained(str(model_dir)).eval()
    dummy = {name: torch.ones((1, 4), dtype=torch.long) for name in _INPUTS}
    dummy["token_type_ids"] = torch.zeros((1, 4), dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "last_hidden_state")}
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(LastHiddenState(model), tuple(dummy[n] for n in _INPUTS), str(tmp),
                              input_names=list(_INPUTS), output_names=["last_hidden_state"],
                              dynamic_axes=axes, opset_version=OPSET, dynamo=False)
        got = OnnxEncoder(tmp, model_dir, max_tokens).encode(samples)
        want = np.asarray(reference(samples), dtype=np.float32)
        want /= np.clip(np.linalg.norm(want, axis=1, keepdims=True), 1e-12, None)
        worst = float((got * want).sum(axis=1).min())
        if worst < EXPORT_MIN_COSINE:
            raise ValueError(f"the ONNX export differs from torch (cosine {worst:.6f} < "
                             f"{EXPORT_MIN_COSINE})")
        os.replace(tmp, target)
        return worst
    finally:
        tmp.unlink(missing_ok=True)
