"""The local model's linear layers in int8: close to the float result for any number of rows, no float weight kept."""

from __future__ import annotations

import gc
import weakref

import pytest
import torch
from torch import nn

from bluebot.config import Settings
from bluebot.errors import ConfigError
from bluebot.int8 import Int8Linear, quantize_model, quantize_rows


def _relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm())


def test_rows_are_quantized_each_with_its_own_scale() -> None:
    x = torch.randn(4, 64)
    x[0, 3] = 1000.0  # an outlier in one row only
    values, scale = quantize_rows(x)
    assert values.dtype == torch.int8 and scale.shape == (4, 1)
    assert int(values[0, 3]) == 127 and values.abs().amax(dim=1).tolist() == [127] * 4
    restored = values.float() * scale
    assert _relative_error(restored[1:], x[1:]) < 0.01  # the other rows keep their precision
    assert torch.equal(quantize_rows(torch.zeros(2, 8))[0], torch.zeros(2, 8, dtype=torch.int8))


def test_rows_shifted_by_a_zero_point_are_uint8() -> None:
    x = torch.randn(3, 32)
    shifted, scale = quantize_rows(x, zero_point=128)
    values, same_scale = quantize_rows(x)
    assert shifted.dtype == torch.uint8 and torch.equal(scale, same_scale)
    assert torch.equal(shifted.int() - 128, values.int())


def _outputs(rows: int, bias: bool = True, dtype: torch.dtype = torch.bfloat16) -> tuple[torch.Tensor, torch.Tensor]:
    """A float linear layer's output and its Int8Linear's for the same input of shape (1, rows, 256)."""
    torch.manual_seed(0)
    linear = nn.Linear(256, 96, bias=bias).to(dtype)
    x = torch.randn(1, rows, 256, dtype=dtype)
    with torch.inference_mode():
        reference = linear(x)
        return Int8Linear(linear)(x), reference


@pytest.mark.parametrize("rows", [1, 11, 40])  # a decoding step, a step with 10 prompt-lookup guesses, a prompt
def test_inputs_of_any_length_run_in_int8_close_to_the_bf16_result(rows: int) -> None:
    out, reference = _outputs(rows)
    assert out.shape == (1, rows, 96) and out.dtype == torch.bfloat16
    assert 0 < _relative_error(out, reference) < 0.02  # not the bf16 product itself, but within 2% of it


def test_a_float32_layer_without_bias_gives_float32_close_to_its_result() -> None:
    out, reference = _outputs(11, bias=False, dtype=torch.float32)
    assert out.dtype == torch.float32
    assert 0 < _relative_error(out, reference) < 0.02


def test_the_output_is_scaled_in_its_own_dtype_without_a_float32_copy() -> None:
    """A float32 scale on a bf16 output made mul_ copy the whole output to float32 and back."""
    linear = nn.Linear(256, 96).to(torch.bfloat16)
    layer, x = Int8Linear(linear), torch.randn(1, 40, 256, dtype=torch.bfloat16)
    with torch.inference_mode(), torch.profiler.profile(record_shapes=True) as profile:
        layer(x)
    copied = [e.input_shapes[0] for e in profile.events() if e.name == "aten::copy_"]
    assert [40, 96] not in copied and [1, 40, 96] not in copied
    assert [40, 256] in copied  # the input's float32 copy for quantizing: the profile does see copies


def test_the_float_weight_is_not_kept() -> None:
    linear = nn.Linear(64, 32).to(torch.bfloat16)
    weight = weakref.ref(linear.weight)
    with torch.inference_mode():
        layer = Int8Linear(linear)
    del linear
    gc.collect()
    assert weight() is None  # freed: only the packed int8 copy is left
    assert [name for name, _ in layer.named_parameters()] == ["bias"]


def _tiny_qwen(tie: bool) -> nn.Module:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=500, hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=tie,
    )
    return Qwen2ForCausalLM(config).to(torch.bfloat16).eval()


@pytest.mark.parametrize("tie", [False, True])
def test_a_decoder_and_its_head_get_int8_layers_and_keep_their_greedy_choices(tie: bool) -> None:
    model = _tiny_qwen(tie)
    embeddings = model.model.embed_tokens.weight.detach().clone()
    ids = torch.randint(0, 500, (1, 64))
    with torch.inference_mode():
        before = model(input_ids=ids).logits[0].float()
        assert quantize_model(model) == 2 * 7 + 1  # q, k, v, o, gate, up, down per layer, and the head
        after = model(input_ids=ids).logits[0].float()
        step = model(input_ids=ids[:, :1]).logits[0].float()  # one row, as a decoding step
    assert isinstance(model.model.layers[0].mlp.down_proj, Int8Linear) and isinstance(model.lm_head, Int8Linear)
    assert torch.equal(model.model.embed_tokens.weight, embeddings)  # the embeddings stay as they were
    assert not any(isinstance(m, nn.Linear) for m in model.modules())
    assert not torch.equal(before, after)
    agree = (before.argmax(-1) == after.argmax(-1)).float().mean()
    assert agree >= 0.9, f"only {agree:.0%} of greedy choices kept"
    assert torch.allclose(step[0], after[0], rtol=0.02, atol=0.02)  # a row's result does not depend on the others


def test_the_head_can_stay_in_its_float_dtype() -> None:
    model = _tiny_qwen(tie=False)
    with torch.inference_mode():
        assert quantize_model(model, head=False) == 2 * 7
    assert type(model.lm_head) is nn.Linear


def test_the_int8_setting_reads_flags_and_rejects_anything_else() -> None:
    assert Settings.from_env({}).int8 is True
    assert Settings.from_env({"BLUEBOT_INT8": "0"}).int8 is False
    assert Settings.from_env({"BLUEBOT_INT8": "off"}).int8 is False
    with pytest.raises(ConfigError, match="BLUEBOT_INT8='maybe' is not a valid flag"):
        Settings.from_env({"BLUEBOT_INT8": "maybe"})


def test_weights_take_7_bits_where_the_cpu_sums_int8_products_in_16_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    from bluebot import generation
    from bluebot.int8 import weight_levels

    monkeypatch.setattr(generation, "_cpu_flags", lambda: {"avx2", "avx512_vnni"})
    assert weight_levels() == 127
    monkeypatch.setattr(generation, "_cpu_flags", lambda: {"avx2", "fma"})
    assert weight_levels() == 63
    values, scale = quantize_rows(torch.randn(4, 64), levels=63)
    assert values.abs().amax(dim=1).tolist() == [63] * 4


@pytest.mark.parametrize("levels", [63, 127])
def test_a_layer_with_outlier_inputs_stays_close_to_the_float_result(levels: int) -> None:
    """Inputs quantized to the ends of their range meet the weights' largest values (a 16-bit sum would saturate)."""
    from bluebot import generation

    torch.manual_seed(0)
    linear = nn.Linear(256, 96, bias=False)
    x = torch.randn(1, 11, 256)
    x[..., :8] *= 30  # outlier features, as in a real model's activations
    if levels == 127 and not generation._cpu_flags() & generation.VNNI_FLAGS:
        pytest.skip("8-bit weights saturate without VNNI or AMX: this CPU takes 7-bit ones")
    with torch.inference_mode():
        out, reference = Int8Linear(linear, levels=levels)(x), linear(x)
    assert 0 < _relative_error(out, reference) < 0.03


def test_without_vnni_decoding_steps_go_to_fbgemm_each_row_with_its_own_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    """7-bit weights (no VNNI) get fbgemm's product for inputs of up to FEW_ROWS rows (it is some 3x faster there
    for a decoding step); a row with huge values does not crush the precision of the others."""
    from bluebot import int8

    torch.manual_seed(0)
    linear = nn.Linear(256, 96)
    layer = Int8Linear(linear, levels=63)
    assert layer.few_rows is not None and Int8Linear(linear, levels=127).few_rows is None
    x = torch.randn(1, 11, 256)
    x[0, 0] *= 1000.0  # one row with values a thousand times the others'
    with torch.inference_mode():
        reference = linear(x)
        fbgemm = layer(x)
        monkeypatch.setattr(int8, "FEW_ROWS", 0)
        onednn = layer(x)
    assert not torch.equal(fbgemm, onednn)  # two different products
    for out in (fbgemm, onednn):
        assert out.shape == (1, 11, 96) and out.dtype == torch.float32
        assert 0 < _relative_error(out[0, 1:], reference[0, 1:]) < 0.02
        assert 0 < _relative_error(out[0, :1], reference[0, :1]) < 0.02
