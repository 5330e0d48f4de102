"""The IR-SDE: closed forms, the samplers (exact for an oracle), the losses, x0 prediction."""

from __future__ import annotations

import math

import pytest
import torch

from daclip.restoration.samplers import EulerMaruyamaSampler, PosteriorSampler, make_sampler
from daclip.restoration.sde import IRSDE, SDEConfig
from daclip.restoration.unet import ConditionalUNet, UNetConfig

torch.set_num_threads(1)

def test_schedule_matches_reference_numbers():
    sde = IRSDE()
    assert sde.T == 100 and math.isclose(sde.max_sigma, 50 / 255)
    assert math.isclose(sde.dt, 0.1041, abs_tol=1e-4)
    assert math.isclose(float(sde.thetas_cumsum[-1]), 50.90, abs_tol=0.01)
    # sigma_bar in 0..255 units at t = 1, 10, 50, 100 (research notes, section 5.3)
    got = [float(sde.sigma_bars[t]) * 255 for t in (1, 10, 50, 100)]
    assert got == pytest.approx([0.94, 8.52, 46.63, 50.0], abs=0.01)
    assert float(sde.mean_weight(100, torch.zeros(1, 1))) == pytest.approx(0.005, rel=1e-6)


@pytest.mark.parametrize("exact,tol", [(True, 0.004), (False, 0.03)])
def test_forward_marginal_matches_closed_form(exact, tol):
    """Monte Carlo through the step-wise forward process vs the closed-form mean and std."""
    sde = IRSDE()
    gen = torch.Generator().manual_seed(0)
    x0, mu = 0.8, 0.2
    x = torch.full((50_000,), x0)
    mus = torch.full_like(x, mu)
    for t in range(sde.T):
        x = sde.forward_step(x, mus, t, gen, exact=exact)
        if t + 1 in (5, 30, 60, 100):
            mean = sde.marginal_mean(torch.tensor([x0]), torch.tensor([mu]), t + 1).item()
            std = sde.marginal_std(t + 1, torch.zeros(1)).item()
            assert x.mean().item() == pytest.approx(mean, abs=tol * 2)
            assert x.std().item() == pytest.approx(std, rel=tol * 2 + 0.01)


def test_add_noise_is_the_marginal():
    sde = IRSDE()
    x0 = torch.rand(4, 3, 8, 8)
    mu = torch.rand(4, 3, 8, 8)
    t = torch.tensor([1, 10, 50, 100])
    noise = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    xt = sde.add_noise(x0, mu, noise, t)
    for i, ti in enumerate(t.tolist()):
        w = math.exp(-float(sde.thetas_cumsum[ti]) * sde.dt)
        expected = mu[i] + (x0[i] - mu[i]) * w + float(sde.sigma_bars[ti]) * noise[i]
        torch.testing.assert_close(xt[i], expected)


def test_optimal_reverse_mean_is_the_gaussian_posterior():
    """Check the closed form against Gaussian conditioning written out independently."""
    sde = IRSDE()
    x0, mu = torch.tensor([0.7]), torch.tensor([0.1])
    lam2 = sde.max_sigma**2
    for t, prev in ((50, 49), (2, 1), (80, 60), (30, 0)):
        xt = torch.tensor([0.45])
        w_prev = math.exp(-float(sde.thetas_cumsum[prev]) * sde.dt)
        m_prev = mu + (x0 - mu) * w_prev
        v_prev = lam2 * (1 - w_prev**2)
        a = math.exp(-(float(sde.thetas_cumsum[t]) - float(sde.thetas_cumsum[prev])) * sde.dt)
        v_trans = lam2 * (1 - a**2)
        # x_t = mu + a (x_prev - mu) + noise(v_trans): posterior of x_prev given x_t
        post_var = 1 / (1 / v_prev + a**2 / v_trans) if v_prev > 0 else 0.0
        # centred on mu: prior (m_prev - mu, v_prev), observation (x_t - mu) = a (x_prev - mu) + n
        post_mean = m_prev if v_prev == 0 else mu + post_var * ((m_prev - mu) / v_prev + a * (xt - mu) / v_trans)
        got = sde.optimal_reverse_mean(xt, x0, mu, t, prev)
        torch.testing.assert_close(got, post_mean.float(), atol=1e-4, rtol=1e-4)
        assert sde.optimal_reverse_std(t, xt, prev).item() == pytest.approx(math.sqrt(post_var), abs=1e-6)


@pytest.mark.parametrize("t", [1, 2, 37, 100])
def test_posterior_step_with_true_noise_returns_optimal_mean(t):
    sde = IRSDE()
    gen = torch.Generator().manual_seed(3)
    x0, mu = torch.rand(2, 3, 6, 6, generator=gen), torch.rand(2, 3, 6, 6, generator=gen)
    noise = torch.randn(2, 3, 6, 6, generator=gen)
    xt = sde.add_noise(x0, mu, noise, t)
    out = PosteriorSampler(sde).step(noise, t, xt, gen, mu=mu)
    torch.testing.assert_close(out.prev_sample_mean, sde.optimal_reverse_mean(xt, x0, mu, t), atol=1e-5, rtol=0)
    if t == 1:  # the last step lands on x_0 exactly and adds no noise
        torch.testing.assert_close(out.prev_sample, x0, atol=1e-5, rtol=0)


def test_em_step_and_loss_use_the_reverse_sde_mean():
    sde = IRSDE()
    gen = torch.Generator().manual_seed(4)
    x0, mu = torch.rand(2, 3, 4, 4, generator=gen), torch.rand(2, 3, 4, 4, generator=gen)
    noise = torch.randn(2, 3, 4, 4, generator=gen)
    t = torch.tensor([20, 20])
    xt = sde.add_noise(x0, mu, noise, t)
    out = EulerMaruyamaSampler(sde).step(noise, 20, xt, gen, mu=mu)
    expected = xt - (float(sde.thetas[20]) * (mu - xt) + 2 * float(sde.thetas[20]) * sde.max_sigma**2
                     * noise / float(sde.sigma_bars[20])) * sde.dt
    torch.testing.assert_close(out.prev_sample_mean, expected.float(), atol=1e-6, rtol=1e-5)
    # the loss is the mean L1 to the optimal mean, and the true noise is close to optimal
    loss = sde.loss(noise, xt, x0, mu, t)
    manual = (expected - sde.optimal_reverse_mean(xt, x0, mu, t)).abs().mean()
    assert loss.item() == pytest.approx(manual.item(), rel=1e-5)
    assert loss.item() < sde.loss(torch.zeros_like(noise), xt, x0, mu, t).item()


def test_timesteps_and_sampler_registry():
    sde = IRSDE(SDEConfig(T=100))
    assert sde.timesteps() == list(range(100, 0, -1))
    few = sde.timesteps(10)
    assert few[0] == 100 and few[-1] == 1 and len(few) == 10
    assert make_sampler("em", sde, 5).prev_timestep(1) == 0
    with pytest.raises(ValueError, match="valid"):
        make_sampler("ddim", sde)
    with pytest.raises(ValueError, match="steps"):
        sde.timesteps(101)


def test_training_lowers_the_loss_on_one_pair():
    """150 AdamW steps on one 32 px pair: the ML loss falls clearly."""
    torch.manual_seed(0)
    sde = IRSDE()
    net = ConditionalUNet(UNetConfig(nf=8, ch_mult=(1, 2), dim_head=8, context_dim=None, full_attention=False))
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(0)
    hq = torch.rand(1, 3, 32, 32, generator=gen).repeat(4, 1, 1, 1)
    lq = (hq + 0.1 * torch.randn(hq.shape, generator=gen)).clamp(0, 1)
    losses = []
    for _ in range(150):
        t = sde.sample_timesteps(4, gen)
        noise = torch.randn(hq.shape, generator=gen)
        xt = sde.add_noise(hq, lq, noise, t)
        loss = sde.loss(net(xt, lq, t), xt, hq, lq, t)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    first, last = sum(losses[:15]) / 15, sum(losses[-15:]) / 15
    assert last < 0.6 * first, (first, last)


def _oracle(sde: IRSDE, x0: torch.Tensor):
    """A noise predictor that knows the clean image: the exact noise of the forward marginal."""

    def predict(x, mu, t, content=None, degradation=None):
        return (x - sde.marginal_mean(x0, mu, t)) / sde.marginal_std(t, x)

    return predict


@pytest.mark.parametrize("steps", [100, 20, 10, 3, 1])
@pytest.mark.parametrize("clip", [True, False])
def test_posterior_sampler_with_few_steps_is_exact_for_an_oracle(steps, clip):
    from daclip.restoration.restore import SamplingConfig, restore_tensor

    sde = IRSDE()
    gen = torch.Generator().manual_seed(5)
    x0, mu = torch.rand(1, 3, 12, 10, generator=gen), torch.rand(1, 3, 12, 10, generator=gen)
    out = restore_tensor(_oracle(sde, x0), sde, mu, SamplingConfig(steps=steps, seed=1, tile=None, clip_x0=clip))
    torch.testing.assert_close(out, x0, atol=1e-4, rtol=0)


def test_clip_x0_keeps_estimates_in_range_and_is_a_no_op_for_the_true_noise():
    from daclip.restoration.restore import SamplingConfig, restore_tensor

    sde = IRSDE()
    gen = torch.Generator().manual_seed(6)
    x0, mu = torch.rand(1, 3, 16, 16, generator=gen), torch.rand(1, 3, 16, 16, generator=gen)

    def bad(x, mu, t, content=None, degradation=None):  # a badly scaled noise predictor
        return 3 * _oracle(sde, x0)(x, mu, t) + 0.5

    kept = restore_tensor(bad, sde, mu, SamplingConfig(steps=10, seed=0, tile=None, clip_x0=True))
    raw = restore_tensor(bad, sde, mu, SamplingConfig(steps=10, seed=0, tile=None, clip_x0=False))
    assert kept.min() >= 0 and kept.max() <= 1
    assert raw.min() < -0.5 or raw.max() > 1.5
    assert (kept - x0).abs().mean() < (raw - x0).abs().mean()
    # with the true noise of an in-range image, clipping changes neither sampler's step
    t = make_sampler("posterior", sde, 10).timesteps[3]
    xt = sde.add_noise(x0, mu, torch.randn(x0.shape, generator=gen), t)
    eps = _oracle(sde, x0)(xt, mu, t)
    for name in ("em", "posterior"):
        a = make_sampler(name, sde, 10, clip_x0=True).step(eps, t, xt, torch.Generator().manual_seed(0), mu=mu)
        b = make_sampler(name, sde, 10, clip_x0=False).step(eps, t, xt, torch.Generator().manual_seed(0), mu=mu)
        torch.testing.assert_close(a.prev_sample, b.prev_sample, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="x0_range"):
        PosteriorSampler(sde, 10, clip_x0=True, x0_range=(1.0, 0.0))


def test_x0_prediction_is_converted_to_the_exact_noise():
    """A network that outputs ``x0 - mu`` (prediction "x0") restores exactly with the true residual."""
    from daclip.restoration.restore import SamplingConfig, restore_tensor

    sde = IRSDE(SDEConfig(prediction="x0"))
    gen = torch.Generator().manual_seed(7)
    x0, mu = torch.rand(2, 3, 8, 8, generator=gen), torch.rand(2, 3, 8, 8, generator=gen)
    noise = torch.randn(x0.shape, generator=gen)
    t = torch.tensor([3, 90])
    xt = sde.add_noise(x0, mu, noise, t)
    torch.testing.assert_close(sde.noise_from_output(x0 - mu, xt, mu, t), noise, atol=2e-3, rtol=0)
    assert sde.x0_loss(sde.noise_from_output(x0 - mu, xt, mu, t), xt, x0, mu, t).item() < 1e-5
    assert sde.x0_loss(noise * 0, xt, x0, mu, t).item() > 0.01
    out = restore_tensor(lambda x, m, t, c=None, d=None: x0[:1] - m, sde, mu[:1],
                         SamplingConfig(steps=10, seed=0, tile=None))
    torch.testing.assert_close(out, x0[:1], atol=1e-4, rtol=0)
    assert IRSDE().noise_from_output(noise, xt, mu, t) is noise  # "noise" passes the output through
    with pytest.raises(ValueError, match="prediction"):
        SDEConfig(prediction="v")
