"""Diffusion math, samplers and the blended / guided conditional denoiser."""

import math

import pytest
import torch
from torch import nn

from ohgesture.core.model.diffusion import (
    ConditioningError,
    CosineSchedule,
    diffusion_loss,
    drop_conditions,
    make_conditional_denoiser,
    posterior,
    q_sample,
)
from ohgesture.core.model.denoiser import DenoiserConfig, GestureDenoiser
from ohgesture.core.model.samplers import (
    SamplerError,
    ddim_sample,
    ddpm_sample,
    dpmpp_2m_sample,
    timestep_spacing,
)

torch.set_num_threads(2)
SCHEDULE = CosineSchedule(1000)

# 1-D Gaussian mixture used as toy data: weights, means, standard deviations
MIX_W = torch.tensor([0.3, 0.7], dtype=torch.float64)
MIX_MU = torch.tensor([-2.0, 1.5], dtype=torch.float64)
MIX_SD = torch.tensor([0.3, 0.5], dtype=torch.float64)
MIX_MEAN = float((MIX_W * MIX_MU).sum())
MIX_STD = math.sqrt(float((MIX_W * (MIX_SD**2 + MIX_MU**2)).sum()) - MIX_MEAN**2)
MODE_SPLIT = -0.25  # between the two modes; the fraction below it should be MIX_W[0]


def sample_mixture(n, generator):
    component = (torch.rand(n, generator=generator, dtype=torch.float64) < MIX_W[0]).long()
    component = 1 - component  # component 0 with probability MIX_W[0]
    z = torch.randn(n, generator=generator, dtype=torch.float64)
    return (MIX_MU[component] + MIX_SD[component] * z).float()


def check_mixture_moments(x, tol_mean=0.08, tol_std=0.08, tol_frac=0.03):
    x = x.double().flatten()
    assert abs(x.mean().item() - MIX_MEAN) < tol_mean, (x.mean().item(), MIX_MEAN)
    assert abs(x.std().item() - MIX_STD) < tol_std, (x.std().item(), MIX_STD)
    low_fraction = (x < MODE_SPLIT).double().mean().item()
    assert abs(low_fraction - MIX_W[0].item()) < tol_frac, low_fraction


def exact_mixture_denoiser(x_t, t):
    """E[x0 | x_t] for the Gaussian-mixture data, in closed form."""
    abar = SCHEDULE.alphas_cumprod[t.cpu()].to(torch.float64)[:, None, None]
    a = abar.sqrt()
    x = x_t.double()[..., None]  # (B, M, D, 1) against components on the last axis
    var = a[..., None] ** 2 * MIX_SD**2 + (1 - abar[..., None])
    log_resp = torch.log(MIX_W) - 0.5 * torch.log(var) - 0.5 * (x - a[..., None] * MIX_MU) ** 2 / var
    resp = torch.softmax(log_resp, dim=-1)
    component_mean = MIX_MU + a[..., None] * MIX_SD**2 / var * (x - a[..., None] * MIX_MU)
    return (resp * component_mean).sum(-1).to(x_t.dtype)


def test_cosine_schedule_matches_the_closed_form():
    T, s = 1000, 0.008
    f = lambda u: math.cos((u / T + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    for t in (0, 1, 10, 500, 900, 990):
        beta = min(1 - f(t + 1) / f(t), 0.999)
        assert SCHEDULE.betas[t].item() == pytest.approx(beta, rel=1e-9)
    assert SCHEDULE.betas.max().item() == pytest.approx(0.999)
    abar = SCHEDULE.alphas_cumprod
    assert (abar[1:] < abar[:-1]).all() and abar[0] < 1 and abar[-1] < 1e-6
    assert SCHEDULE.alphas_cumprod[500].item() == pytest.approx(f(501) / f(0), rel=1e-6)


def test_forward_process_marginals():
    g = torch.Generator().manual_seed(0)
    n = 200_000
    x0 = torch.full((n, 1, 1), 1.7)
    for t in (0, 100, 500, 999):
        tt = torch.full((n,), t)
        x_t = q_sample(SCHEDULE, x0, tt, torch.randn(x0.shape, generator=g)).double()
        abar = SCHEDULE.alphas_cumprod[t].item()
        assert x_t.mean().item() == pytest.approx(math.sqrt(abar) * 1.7, abs=0.01)
        assert x_t.var().item() == pytest.approx(1 - abar, rel=0.02, abs=1e-5)


def test_posterior_matches_bayes_on_gaussians():
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(6, 3, 2, generator=g, dtype=torch.float64)
    x_t = torch.randn(6, 3, 2, generator=g, dtype=torch.float64)
    t = torch.tensor([1, 2, 50, 400, 998, 999])
    mean, variance, log_variance = posterior(SCHEDULE, x0, x_t, t)
    for i, ti in enumerate(t.tolist()):
        beta = SCHEDULE.betas[ti].item()
        abar_prev = SCHEDULE.alphas_cumprod[ti - 1].item()
        # prior q(x_{t-1}|x0) = N(sqrt(abar_prev) x0, 1-abar_prev); likelihood q(x_t|x_{t-1}) = N(sqrt(1-beta) x_{t-1}, beta)
        precision = 1 / (1 - abar_prev) + (1 - beta) / beta
        var = 1 / precision
        mu = var * (math.sqrt(abar_prev) * x0[i] / (1 - abar_prev) + math.sqrt(1 - beta) * x_t[i] / beta)
        torch.testing.assert_close(mean[i], mu, rtol=1e-9, atol=1e-9)
        assert variance[i].item() == pytest.approx(var, rel=1e-9)
        assert log_variance[i].item() == pytest.approx(math.log(var), rel=1e-9)
    # at t = 0 the step lands on clean data: the posterior collapses onto x0
    mean0, var0, _ = posterior(SCHEDULE, x0, x_t, torch.zeros(6, dtype=torch.long))
    torch.testing.assert_close(mean0, x0)
    assert (var0 == 0).all()


class ToyDenoiser(nn.Module):
    """Small x0-predicting MLP for 1-D data with a Gaussian-optimal skip connection."""

    def __init__(self, data_var: float):
        super().__init__()
        self.data_var = data_var
        self.net = nn.Sequential(nn.Linear(2, 64), nn.SiLU(), nn.Linear(64, 64), nn.SiLU(), nn.Linear(64, 1))

    def forward(self, x_t, t):
        abar = SCHEDULE.alphas_cumprod[t.cpu()].float().reshape(-1, *([1] * (x_t.dim() - 1)))
        total_var = abar * self.data_var + (1 - abar)
        c_skip = abar.sqrt() * self.data_var / total_var
        c_out = (self.data_var * (1 - abar) / total_var).sqrt()
        log_snr = torch.log(abar / (1 - abar)).expand_as(x_t) / 8
        features = torch.stack([x_t / total_var.sqrt(), log_snr], dim=-1)
        return c_skip * x_t + c_out * self.net(features).squeeze(-1)


@pytest.fixture
def one_thread():
    """Tiny networks run faster on one thread, above all on a busy machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_ddpm_with_all_steps_recovers_trained_toy_mixture(one_thread):
    g = torch.Generator().manual_seed(2)
    torch.manual_seed(2)
    model = ToyDenoiser(MIX_STD**2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    steps = 3000
    schedule_lr = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for _ in range(steps):
        x0 = sample_mixture(512, g)[:, None]
        t = torch.randint(0, SCHEDULE.T, (512,), generator=g)
        x_t = q_sample(SCHEDULE, x0, t, torch.randn(x0.shape, generator=g))
        loss = ((model(x_t, t) - x0) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule_lr.step()
    model.eval()
    calls = []
    with torch.no_grad():
        x = ddpm_sample(
            lambda x_t, t: model(x_t, t), (4000, 1), SCHEDULE,
            generator=torch.Generator().manual_seed(3), device="cpu", progress=lambda i, n: calls.append((i, n)),
        )
    assert calls[0] == (1, 1000) and calls[-1] == (1000, 1000) and len(calls) == 1000
    check_mixture_moments(x, tol_mean=0.1, tol_std=0.1, tol_frac=0.04)


def test_ddpm_with_exact_denoiser_recovers_mixture(one_thread):
    x = ddpm_sample(exact_mixture_denoiser, (4000, 1, 1), SCHEDULE, generator=torch.Generator().manual_seed(4))
    check_mixture_moments(x)


@pytest.mark.parametrize("sampler,steps", [(ddim_sample, 50), (dpmpp_2m_sample, 20)])
def test_few_step_samplers_recover_mixture_with_exact_denoiser(sampler, steps):
    x = sampler(exact_mixture_denoiser, (4000, 1, 1), SCHEDULE, steps=steps, generator=torch.Generator().manual_seed(5))
    check_mixture_moments(x, tol_std=0.1)


def test_ddim_eta0_is_deterministic_given_x_T_and_repeatable():
    x_T = torch.randn(64, 1, 1, generator=torch.Generator().manual_seed(6))
    a = ddim_sample(exact_mixture_denoiser, x_T.shape, SCHEDULE, steps=10, x_T=x_T, generator=torch.Generator().manual_seed(7))
    b = ddim_sample(exact_mixture_denoiser, x_T.shape, SCHEDULE, steps=10, x_T=x_T, generator=torch.Generator().manual_seed(99))
    assert torch.equal(a, b)  # eta = 0 never draws noise after x_T
    c = ddim_sample(exact_mixture_denoiser, x_T.shape, SCHEDULE, steps=10, generator=torch.Generator().manual_seed(8))
    d = ddim_sample(exact_mixture_denoiser, x_T.shape, SCHEDULE, steps=10, generator=torch.Generator().manual_seed(8))
    assert torch.equal(c, d) and not torch.equal(a, c)


def test_ddpm_same_generator_seed_is_bit_identical():
    run = lambda s: ddpm_sample(  # noqa: E731
        exact_mixture_denoiser, (8, 3, 1), CosineSchedule(50), generator=torch.Generator().manual_seed(s)
    )
    assert torch.equal(run(9), run(9))
    assert not torch.equal(run(9), run(10))


def test_timestep_spacing():
    uniform = timestep_spacing(1000, 10)
    assert uniform[0] == 999 and uniform[-1] == 0 and (uniform[1:] < uniform[:-1]).all() and len(uniform) == 10
    quad = timestep_spacing(1000, 50, "quadratic")
    assert quad[0] == 999 and quad[-1] == 0 and len(set(quad.tolist())) == 50
    assert (quad[-2] - quad[-1]) < (quad[0] - quad[1])  # denser near t = 0
    assert timestep_spacing(1000, 1000, "quadratic").tolist() == list(range(999, -1, -1))
    with pytest.raises(SamplerError):
        timestep_spacing(1000, 0)
    with pytest.raises(SamplerError):
        timestep_spacing(1000, 10, "cubic")
    with pytest.raises(SamplerError):
        ddim_sample(exact_mixture_denoiser, (2, 1, 1), SCHEDULE, timesteps=torch.tensor([0, 10]))


@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "dpmpp_2m"])
def test_inpainting_holds_known_frames(sampler):
    g = torch.Generator().manual_seed(11)
    known = torch.randn(4, 12, 3, generator=g) * 0.1 + 5.0  # far from the data: cannot be matched by chance
    mask = torch.zeros(4, 12, 1)
    mask[:, :3] = 1
    schedule = CosineSchedule(100)
    seen_t = []

    def denoise(x_t, t):
        seen_t.append(int(t[0]))
        # the held frames must look like noised known frames while sampling
        return torch.zeros_like(x_t)

    kwargs = dict(generator=torch.Generator().manual_seed(12), inpaint=(known, mask))
    if sampler == "ddpm":
        x = ddpm_sample(denoise, known.shape, schedule, **kwargs)
    elif sampler == "ddim":
        x = ddim_sample(denoise, known.shape, schedule, steps=10, **kwargs)
    else:
        x = dpmpp_2m_sample(denoise, known.shape, schedule, steps=10, **kwargs)
    assert torch.equal(x[:, :3], known[:, :3])
    assert x[:, 3:].abs().max() < 1.0  # the free frames follow the (zero) denoiser
    assert seen_t[0] == 99 and seen_t[-1] == 0


def tiny_model(num_emotions=3, layers=1, **overrides):
    torch.manual_seed(0)
    config = DenoiserConfig(
        motion_dim=6, audio_dim=5, num_emotions=num_emotions, window=12, n_seed=2,
        latent=32, layers=layers, heads=2, ff=64, local_window=3, dropout=0.0, **overrides,
    )
    return GestureDenoiser(config).eval()


class CountingModel:
    """Wraps a denoiser model and records the batch size of every forward call."""

    def __init__(self, model):
        self.model, self.config, self.null_emotion = model, model.config, model.null_emotion
        self.batch_sizes = []

    def __call__(self, x_t, *args):
        self.batch_sizes.append(x_t.shape[0])
        return self.model(x_t, *args)


def conditioning(batch=2, frames=12):
    g = torch.Generator().manual_seed(13)
    return dict(
        x_t=torch.randn(batch, frames, 6, generator=g),
        t=torch.full((batch,), 500),
        seed=torch.randn(batch, 2, 6, generator=g),
        audio=torch.randn(batch, frames, 5, generator=g),
    )


def direct(model, c, emotion, seed_null=False):
    batch = c["x_t"].shape[0]
    with torch.no_grad():
        return model(
            c["x_t"], c["t"], c["seed"], torch.full((batch,), emotion), c["audio"],
            torch.full((batch,), seed_null),
        )


def test_blend_gamma_endpoints_and_average():
    model = tiny_model()
    c = conditioning()
    out_e1, out_e2 = direct(model, c, 0), direct(model, c, 2)
    assert (out_e1 - out_e2).abs().max() > 1e-2  # the denoiser really depends on the emotion

    def blended(gamma):
        den = make_conditional_denoiser(model, seed=c["seed"], audio=c["audio"], emotions=[0, 2], weights=[gamma, 1 - gamma])
        return den(c["x_t"], c["t"])

    torch.testing.assert_close(blended(1.0), out_e1)
    torch.testing.assert_close(blended(0.0), out_e2)
    torch.testing.assert_close(blended(0.5), 0.5 * (out_e1 + out_e2))


def test_blend_per_frame_gamma_curve():
    model = tiny_model()
    c = conditioning()
    gamma = torch.linspace(0, 1, 12)
    den = make_conditional_denoiser(model, seed=c["seed"], audio=c["audio"], emotions=[1, 0], weights=torch.stack([gamma, 1 - gamma]))
    expected = gamma[None, :, None] * direct(model, c, 1) + (1 - gamma[None, :, None]) * direct(model, c, 0)
    torch.testing.assert_close(den(c["x_t"], c["t"]), expected)


def test_three_emotion_mix_with_one_hot_weights_equals_single_emotion():
    model = tiny_model()
    c = conditioning()
    mixed = make_conditional_denoiser(model, seed=c["seed"], audio=c["audio"], emotions=[2, 0, 1], weights=torch.tensor([1.0, 0.0, 0.0]))
    single = make_conditional_denoiser(model, seed=c["seed"], audio=c["audio"], emotions=[2], weights=[1.0])
    torch.testing.assert_close(mixed(c["x_t"], c["t"]), direct(model, c, 2))
    a = ddim_sample(mixed, c["x_t"].shape, SCHEDULE, steps=5, generator=torch.Generator().manual_seed(14))
    b = ddim_sample(single, c["x_t"].shape, SCHEDULE, steps=5, generator=torch.Generator().manual_seed(14))
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_classifier_free_guidance():
    model = tiny_model()
    c = conditioning()
    counting = CountingModel(model)
    no_guidance = make_conditional_denoiser(counting, seed=c["seed"], audio=c["audio"], emotions=[1], weights=[1.0], guidance=1.0)
    torch.testing.assert_close(no_guidance(c["x_t"], c["t"]), direct(model, c, 1))
    assert counting.batch_sizes == [2]  # w = 1 skips the unconditional pass

    guided = make_conditional_denoiser(model, seed=c["seed"], audio=c["audio"], emotions=[1], weights=[1.0], guidance=2.5)
    uncond = direct(model, c, model.null_emotion, seed_null=True)
    expected = uncond + 2.5 * (direct(model, c, 1) - uncond)
    torch.testing.assert_close(guided(c["x_t"], c["t"]), expected)
    assert (uncond - direct(model, c, 1)).abs().max() > 1e-2


def test_all_passes_are_one_batched_model_call_per_step():
    model = tiny_model()
    c = conditioning(batch=3)
    counting = CountingModel(model)
    den = make_conditional_denoiser(counting, seed=c["seed"], audio=c["audio"], emotions=[0, 1, 2], weights=[0.2, 0.3, 0.5], guidance=2.0)
    ddim_sample(den, c["x_t"].shape, SCHEDULE, steps=7, generator=torch.Generator().manual_seed(15))
    assert counting.batch_sizes == [3 * (3 + 1)] * 7


def test_null_seed_when_seed_is_none():
    model = tiny_model()
    c = conditioning()
    den = make_conditional_denoiser(model, seed=None, audio=c["audio"], emotions=[0], weights=[1.0])
    torch.testing.assert_close(den(c["x_t"], c["t"]), direct(model, c, 0, seed_null=True))


def test_bad_blend_arguments_are_refused():
    model = tiny_model()
    c = conditioning()
    with pytest.raises(ConditioningError, match="sum to 1"):
        make_conditional_denoiser(model, seed=c["seed"], audio=c["audio"], emotions=[0, 1], weights=[0.5, 0.6])
    with pytest.raises(ConditioningError, match="shape"):
        make_conditional_denoiser(model, seed=c["seed"], audio=c["audio"], emotions=[0, 1], weights=[1.0])
    with pytest.raises(ConditioningError, match="emotion indices"):
        make_conditional_denoiser(model, seed=c["seed"], audio=c["audio"], emotions=[7], weights=[1.0])


def test_diffusion_loss_trains_and_is_reproducible():
    model = tiny_model()
    model.train()
    c = conditioning(batch=4)
    x0 = torch.randn(4, 12, 6, generator=torch.Generator().manual_seed(16))
    emotion = torch.tensor([0, 1, 2, 0])
    args = (model, x0, c["seed"], emotion, c["audio"], SCHEDULE)
    a = diffusion_loss(*args, generator=torch.Generator().manual_seed(17), p_drop=0.1)
    b = diffusion_loss(*args, generator=torch.Generator().manual_seed(17), p_drop=0.1)
    assert a.dim() == 0 and torch.equal(a, b)
    a.backward()
    assert model.input_proj.weight.grad.abs().sum() > 0 and model.null_seed.grad is not None
    # fitting a fixed batch makes the loss fall
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(18)
    losses = []
    for _ in range(60):
        loss = diffusion_loss(*args, generator=g)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-10:]) < 0.7 * sum(losses[:10])


def test_activity_model_learns_to_predict_activity_from_audio_and_follows_the_true_curve():
    model = tiny_model(activity_conditioning=True)
    model.train()
    c = conditioning(batch=8)
    x0 = torch.randn(8, 12, 6, generator=torch.Generator().manual_seed(16))
    emotion = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    a = c["audio"]
    activity = torch.stack([a[..., 0] * 0.5 + a[..., 1].roll(1, dims=1), a[..., 2]], dim=-1)  # from the audio
    with pytest.raises(ConditioningError, match="activity"):
        diffusion_loss(model, x0, c["seed"], emotion, c["audio"], SCHEDULE)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(18)

    def predictor_error():
        with torch.no_grad():
            _, predicted = model(x0, torch.zeros(8, dtype=torch.long), c["seed"], emotion, c["audio"],
                                 return_activity=True)
        return (predicted - activity).abs().mean().item()

    before = predictor_error()
    for _ in range(150):
        loss = diffusion_loss(model, x0, c["seed"], emotion, c["audio"], SCHEDULE, generator=g, activity=activity)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert predictor_error() < 0.3 * before
    model.eval()
    t = torch.full((8,), 300)
    with torch.no_grad():  # the denoiser reads the activity it is given (training feeds the true one)
        given = model(x0, t, c["seed"], emotion, c["audio"], activity=activity + 2.0)
        own = model(x0, t, c["seed"], emotion, c["audio"])
    assert (given - own).abs().max() > 1e-3


def test_windows_marked_for_the_predicted_activity_see_the_encoders_curve_without_training_it_through_them():
    model = tiny_model(activity_conditioning=True)
    model.eval()
    c = conditioning(batch=4)
    x0 = torch.randn(4, 12, 6, generator=torch.Generator().manual_seed(16))
    emotion = torch.tensor([0, 1, 2, 0])
    t = torch.full((4,), 300)
    true = torch.randn(4, 12, 2, generator=torch.Generator().manual_seed(3)) + 2.0
    mask = torch.tensor([True, False, True, False])
    with torch.no_grad():
        own = model(x0, t, c["seed"], emotion, c["audio"])
        given = model(x0, t, c["seed"], emotion, c["audio"], activity=true)
        mixed = model(x0, t, c["seed"], emotion, c["audio"], activity=true, use_predicted=mask)
    assert torch.allclose(mixed[mask], own[mask]) and torch.allclose(mixed[~mask], given[~mask])
    assert (given[mask] - own[mask]).abs().max() > 1e-3
    # the encoder learns only from its own loss: the denoiser's loss on those rows does not reach it
    model.train()
    x0_hat = model(x0, t, c["seed"], emotion, c["audio"], activity=true, use_predicted=torch.ones(4, dtype=torch.bool))
    x0_hat.sum().backward()
    assert all(p.grad is None for p in model.activity_predictor.parameters())
    model.zero_grad()
    loss = diffusion_loss(model, x0, c["seed"], emotion, c["audio"], SCHEDULE, generator=torch.Generator().manual_seed(1),
                          activity=true, predicted_activity_share=1.0)
    loss.backward()
    assert all(p.grad is not None for p in model.activity_predictor.parameters())


def test_drop_conditions_rates_and_independence():
    g = torch.Generator().manual_seed(19)
    n = 40_000
    seed_null = torch.zeros(n, dtype=torch.bool)
    emotion = torch.randint(0, 5, (n,), generator=g)
    new_null, new_emotion = drop_conditions(seed_null, emotion, 0.1, g, null_emotion=5)
    dropped_e = new_emotion == 5
    assert abs(new_null.float().mean().item() - 0.1) < 0.01
    assert abs(dropped_e.float().mean().item() - 0.1) < 0.01
    assert abs((new_null & dropped_e).float().mean().item() - 0.01) < 0.003  # independent draws
    assert torch.equal(new_emotion[~dropped_e], emotion[~dropped_e]) and not seed_null.any()
    already_null = torch.ones(n, dtype=torch.bool)
    assert drop_conditions(already_null, emotion, 0.1, g, null_emotion=5)[0].all()
    new_null, new_emotion = drop_conditions(seed_null, emotion, 0.1, g, null_emotion=5, p_seed=0.5)
    assert abs(new_null.float().mean().item() - 0.5) < 0.015
    assert abs((new_emotion == 5).float().mean().item() - 0.1) < 0.01  # the emotion keeps its own rate


def _with_performer(model, c, emotion, performer):
    batch = c["x_t"].shape[0]
    with torch.no_grad():
        return model(c["x_t"], c["t"], c["seed"], torch.full((batch,), emotion), c["audio"],
                     torch.zeros(batch, dtype=torch.bool), performer=torch.full((batch,), performer))


def test_performers_blend_like_emotions_and_uncaptured_channels_come_from_the_other():
    """Issue 28: the performer (delivery) is a second label blended inside the sampler; the
    channels one performer's take did not capture (legs, root) come only from the other's."""
    model = tiny_model(num_performers=2)
    c = conditioning()
    a, b = _with_performer(model, c, 1, 0), _with_performer(model, c, 1, 1)
    assert (a - b).abs().max() > 1e-2  # the denoiser really depends on the performer
    lower = torch.tensor([True, True, False, False, False, False])
    den = make_conditional_denoiser(model, seed=c["seed"], audio=c["audio"], emotions=[1, 1], weights=[0.25, 0.75],
                                    performers=[0, 1], lower_weights=[1.0, 0.0], lower_channels=lower)
    out = den(c["x_t"], c["t"])
    torch.testing.assert_close(out[..., 2:], 0.25 * a[..., 2:] + 0.75 * b[..., 2:])
    torch.testing.assert_close(out[..., :2], a[..., :2])
    guided = make_conditional_denoiser(model, seed=c["seed"], audio=c["audio"], emotions=[1], weights=[1.0],
                                       performers=[1], guidance=2.0)(c["x_t"], c["t"])
    with torch.no_grad():  # the unconditional pass has the null emotion, seed and performer
        batch = c["x_t"].shape[0]
        uncond = model(c["x_t"], c["t"], c["seed"], torch.full((batch,), model.null_emotion), c["audio"],
                       torch.ones(batch, dtype=torch.bool), performer=torch.full((batch,), model.null_performer))
    torch.testing.assert_close(guided, uncond + 2.0 * (b - uncond))
    with pytest.raises(ConditioningError, match="one performer per emotion"):
        make_conditional_denoiser(model, seed=c["seed"], audio=c["audio"], emotions=[1], weights=[1.0],
                                  performers=[0, 1])


def test_a_channel_weight_leaves_uncaptured_channels_out_of_the_loss():
    prediction = torch.zeros(2, 12, 6)

    def predict(*args, **kwargs):  # a denoiser whose prediction does not depend on x_t
        return prediction

    c = conditioning(batch=2)
    x0 = torch.randn(2, 12, 6, generator=torch.Generator().manual_seed(3))
    weight = torch.tensor([[1.0] * 6, [0, 0, 1, 1, 1, 1]])

    def loss(target):
        return diffusion_loss(predict, target, c["seed"], torch.tensor([0, 1]), c["audio"], SCHEDULE,
                              generator=torch.Generator().manual_seed(5), channel_weight=weight)

    expected = (torch.nn.functional.smooth_l1_loss(prediction, x0, reduction="none") * weight[:, None]).sum() / (
        12 * weight.sum())
    torch.testing.assert_close(loss(x0), expected)
    changed = x0.clone()
    changed[1, :, :2] += 100.0  # what the second window did not capture
    torch.testing.assert_close(loss(changed), loss(x0))
    changed[0, :, :2] += 100.0  # the first did
    assert loss(changed) > loss(x0) + 1
