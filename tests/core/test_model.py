"""GestureDenoiser shapes, conditioning paths and the local attention band."""

import pytest
import torch

from ohgesture.core.model.denoiser import (
    DenoiserConfig,
    GestureDenoiser,
    LocalAttention,
    ModelConfigError,
    band_mask,
    count_parameters,
)

torch.set_num_threads(2)


def make(layers=1, local_window=3, **overrides):
    torch.manual_seed(0)
    config = DenoiserConfig(
        motion_dim=7, audio_dim=5, num_emotions=4, window=20, n_seed=3,
        latent=32, layers=layers, heads=4, ff=64, local_window=local_window, dropout=0.0, **overrides,
    )
    return GestureDenoiser(config).eval()


def inputs(batch=3, frames=20, seed=1):
    g = torch.Generator().manual_seed(seed)
    return dict(
        x_t=torch.randn(batch, frames, 7, generator=g),
        t=torch.randint(0, 1000, (batch,), generator=g),
        seed=torch.randn(batch, 3, 7, generator=g),
        emotion=torch.tensor([0, 4, 2])[:batch],
        audio=torch.randn(batch, frames, 5, generator=g),
        seed_null=torch.tensor([False, True, False])[:batch],
    )


def run(model, c):
    with torch.no_grad():
        return model(c["x_t"], c["t"], c["seed"], c["emotion"], c["audio"], c["seed_null"])


def test_forward_shape_and_default_config():
    model = make()
    out = run(model, inputs())
    assert out.shape == (3, 20, 7) and torch.isfinite(out).all()
    default = DenoiserConfig(motion_dim=130, audio_dim=64, num_emotions=7)
    assert (default.window, default.n_seed, default.latent, default.layers, default.heads, default.ff, default.local_window) == (
        90, 10, 256, 4, 4, 1024, 15
    )
    big = GestureDenoiser(default)
    assert 1_000_000 < count_parameters(big) < 20_000_000
    assert big.null_emotion == 7 and big.emotion_embedding.num_embeddings == 8


def test_frame_count_may_differ_from_window():
    model = make()
    out = run(model, inputs(frames=11))
    assert out.shape == (3, 11, 7)


def test_config_round_trip_and_refusals():
    config = make().config
    assert DenoiserConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ModelConfigError, match="unknown"):
        DenoiserConfig.from_dict({**config.to_dict(), "wings": 2})
    with pytest.raises(ModelConfigError, match="incomplete"):
        DenoiserConfig.from_dict({"motion_dim": 3})
    with pytest.raises(ModelConfigError, match="divisible"):
        DenoiserConfig(motion_dim=3, audio_dim=2, num_emotions=2, latent=30, heads=4)


def test_conditions_change_the_output():
    model = make()
    c = inputs()
    base = run(model, c)
    for name, changed in [
        ("t", c["t"] + 100),
        ("emotion", torch.tensor([1, 3, 4])),
        ("audio", c["audio"] + 1.0),
        ("seed", c["seed"] + 1.0),
    ]:
        out = run(model, {**c, name: changed})
        diff = (out - base).abs().amax(dim=(1, 2))
        if name == "seed":  # sample 1 has a null seed: its seed values are ignored
            assert diff[1] == 0 and diff[0] > 1e-3 and diff[2] > 1e-3
        else:
            assert (diff > 1e-4).all(), name


def test_checkpoints_that_record_retired_variants_switched_off_still_load():
    # the model_config a checkpoint of the 0.1.0 release records (the variants all off)
    recorded = {"activity_channels": 2, "activity_conditioning": True, "activity_head": False,
                "activity_in_motion": False, "audio_dim": 17, "audio_film": False, "dropout": 0.1, "ff": 512,
                "heads": 4, "input_scaling_steps": 0, "latent": 128, "layers": 3, "local_window": 15,
                "motion_dim": 136, "n_seed": 10, "num_emotions": 16, "window": 90}
    config = DenoiserConfig.from_dict(recorded)
    assert config.activity_conditioning and config.num_emotions == 16 and not hasattr(config, "audio_film")
    assert GestureDenoiser(config).config == config
    old = make().config.to_dict() | {"audio_film": False, "input_scaling_steps": 0, "activity_in_motion": False,
                                      "activity_head": False}
    assert DenoiserConfig.from_dict(old) == make().config
    with pytest.raises(ModelConfigError, match="audio_film, an experimental variant"):
        DenoiserConfig.from_dict(old | {"audio_film": True})
    with pytest.raises(ModelConfigError, match="negative"):
        make(activity_channels=-1)


def test_null_seed_equals_seed_none():
    model = make()
    c = inputs()
    all_null = {**c, "seed_null": torch.ones(3, dtype=torch.bool)}
    with torch.no_grad():
        none_out = model(c["x_t"], c["t"], None, c["emotion"], c["audio"])
    torch.testing.assert_close(run(model, all_null), none_out)


def test_band_mask_values():
    mask = band_mask(6, 2)
    assert mask[0, 2] == 0 and mask[0, 3] == float("-inf") and mask[5, 3] == 0 and mask[5, 2] == float("-inf")


@pytest.mark.parametrize("far", [0, 4, 15, 19])
def test_local_attention_band_restricts_what_frame_i_sees(far):
    """With no encoder layers only the local attention mixes frames: perturbing a frame
    farther than local_window from frame i leaves frame i's output unchanged."""
    model = make(layers=0, local_window=3)
    i = 9
    c = inputs()
    base = run(model, c)
    x_t = c["x_t"].clone()
    x_t[:, far] += 5.0
    out = run(model, {**c, "x_t": x_t})
    assert torch.equal(out[:, i], base[:, i])
    assert (out[:, far] - base[:, far]).abs().max() > 1e-3
    near = x_t.clone()
    near[:, i + 3] += 5.0  # inside the band: frame i does see it
    assert (run(model, {**c, "x_t": near})[:, i] - base[:, i]).abs().max() > 1e-4


def test_relative_position_bias_is_used():
    attention = LocalAttention(dim=8, heads=2, half_width=2, dropout=0.0)
    h = torch.randn(1, 7, 8, generator=torch.Generator().manual_seed(3))
    before = attention(h)
    with torch.no_grad():
        attention.relative_bias[:, 0] += 3.0  # favour looking two frames back
    assert (attention(h) - before).abs().max() > 1e-3


def test_gradients_reach_every_parameter():
    model = make(layers=2)
    model.train()
    c = inputs()
    c["seed_null"] = torch.tensor([False, True, False])
    out = model(c["x_t"], c["t"], c["seed"], c["emotion"], c["audio"], c["seed_null"])
    out.square().mean().backward()
    without_grad = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert without_grad == []


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_forward_matches_cpu():
    model = make()
    c = inputs()
    cpu = run(model, c)
    gpu_model = model.to("cuda")
    gpu = run(gpu_model, {k: v.to("cuda") for k, v in c.items()})
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=1e-3)
