"""The int8 path of the local model's prompt pass: close to bf16 for long inputs, bf16 itself for short ones."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bluebot.config import Settings
from bluebot.errors import ConfigError
from bluebot.int8 import Int8PrefillLinear, quantize_decoder, quantize_rows


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


def _outputs(bias: bool, tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A bf16 linear layer's output and its Int8PrefillLinear's (int8 from 16 tokens) for the same input."""
    torch.manual_seed(0)
    linear = nn.Linear(256, 96, bias=bias).to(torch.bfloat16)
    layer = Int8PrefillLinear(linear, min_tokens=16)
    x = torch.randn(1, tokens, 256, dtype=torch.bfloat16)
    with torch.inference_mode():
        return layer(x), linear(x)


def test_long_inputs_run_in_int8_close_to_the_bf16_result() -> None:
    out, reference = _outputs(bias=True, tokens=40)
    assert out.shape == (1, 40, 96) and out.dtype == torch.bfloat16
    assert 0 < _relative_error(out, reference) < 0.02  # not the bf16 product itself, but within 2% of it


def test_short_inputs_run_in_the_original_dtype_unchanged() -> None:
    assert torch.equal(*_outputs(bias=False, tokens=15))


def test_a_decoder_gets_int8_linear_layers_and_keeps_its_greedy_choices() -> None:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=500, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
    )
    model = Qwen2ForCausalLM(config).to(torch.bfloat16).eval()
    ids = torch.randint(0, 500, (1, 64))
    with torch.inference_mode():
        before = model(input_ids=ids).logits[0].float()
        assert quantize_decoder(model, min_tokens=32) == 2 * 7  # q, k, v, o, gate, up, down per layer
        after = model(input_ids=ids).logits[0].float()
    assert isinstance(model.model.layers[0].mlp.down_proj, Int8PrefillLinear)
    assert type(model.lm_head) is nn.Linear  # the output head is not touched
    assert not torch.equal(before, after)
    agree = (before.argmax(-1) == after.argmax(-1)).float().mean()
    assert agree >= 0.9, f"only {agree:.0%} of greedy choices kept"


def test_the_int8_setting_reads_flags_and_rejects_anything_else() -> None:
    assert Settings.from_env({}).int8_prefill is True
    assert Settings.from_env({"BLUEBOT_INT8_PREFILL": "0"}).int8_prefill is False
    assert Settings.from_env({"BLUEBOT_INT8_PREFILL": "off"}).int8_prefill is False
    with pytest.raises(ConfigError, match="BLUEBOT_INT8_PREFILL='maybe' is not a valid flag"):
        Settings.from_env({"BLUEBOT_INT8_PREFILL": "maybe"})
