"""Is the index fresh, and if not, why. Cheap: reads the manifest and hashes corpus files,
never loads the model."""

from __future__ import annotations

from dataclasses import dataclass, field

from assistant.config import Settings
from assistant.corpus.loader import corpus_file_hashes
from assistant.index.chunks import chunking_settings
from assistant.index.embedding import resolve_model
from assistant.index.manifest import Manifest, read_manifest


@dataclass
class IndexStatus:
    fresh: bool
    reasons: list[str] = field(default_factory=list)
    manifest: Manifest | None = None

    def to_json(self) -> dict:
        m = self.manifest
        return {
            "fresh": self.fresh,
            "reasons": self.reasons,
            "paragraphs": m.paragraph_count if m else 0,
            "chunks": m.chunk_count if m else 0,
            "embedding_model": m.embedding_model if m else None,
            "built_at": m.built_at if m else None,
            "version": m.version if m else None,
            "store": ({"mode": m.mode, "location": m.location, "collection": m.collection}
                      if m else None),
            "skipped_files": m.skipped_files if m else [],
            "documents": [{k: d[k] for k in ("doc_id", "title", "kind", "paragraphs")}
                          for d in (m.documents if m else [])],
        }


def index_status(settings: Settings, corpus=None) -> IndexStatus:
    """`corpus` (a loaded Corpus) lets the check also see paragraphs the readers now produce
    differently from what was indexed (e.g. after an upgrade), not only changed files."""
    manifest = read_manifest(settings.index_dir)  # IndexCorruptError propagates: it is an answer
    if manifest is None:
        return IndexStatus(False, ["never built: run `assistant index rebuild`"])
    reasons: list[str] = []
    info, _ = resolve_model(settings.embedding_model)
    if info.fingerprint != manifest.model_fingerprint:
        reasons.append(f"embedding model changed: index built with {manifest.embedding_model}, "
                       f"configured {info.name}; run `assistant index rebuild --full`")
    if manifest.chunking != chunking_settings(settings.chunk_max_tokens):
        reasons.append("chunking settings changed; run `assistant index rebuild`")
    if manifest.sidecar.get("pipeline") != settings.spacy_pipeline:
        reasons.append(f"spaCy pipeline changed (index: {manifest.sidecar.get('pipeline') or 'none'}, "
                       f"configured: {settings.spacy_pipeline}); run `assistant index rebuild`")
    if manifest.mode != ("server" if settings.chroma_url else "local"):
        reasons.append(f"index was built for the {manifest.mode} store; run `assistant index rebuild`")
    current = corpus_file_hashes(settings.corpus_dir)
    for rel in sorted(set(current) | set(manifest.corpus_files)):
        if rel not in manifest.corpus_files:
            reasons.append(f"corpus file added: {rel}")
        elif rel not in current:
            reasons.append(f"corpus file removed: {rel}")
        elif current[rel] != manifest.corpus_files[rel]:
            reasons.append(f"corpus file changed: {rel}")
    if corpus is not None and not reasons:
        indexed, current_ids = set(manifest.paragraphs), {p.id for p in corpus.paragraphs}
        if indexed != current_ids:
            reasons.append(f"{len(current_ids - indexed)} paragraphs are not indexed and "
                           f"{len(indexed - current_ids)} no longer exist (the readers changed); "
                           "run `assistant index rebuild`")
    return IndexStatus(not reasons, reasons, manifest)
