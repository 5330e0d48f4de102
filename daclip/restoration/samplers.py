"""The reverse samplers of the IR-SDE: Euler-Maruyama, posterior and probability-flow ODE.

Every sampler has the same ``step(model_output, t, sample, generator, mu=...)`` signature and
returns :class:`~daclip.restoration.sde.SDEStepOutput`; all noise comes from an explicit
``torch.Generator``. The U-Net never imports this module.
"""

from __future__ import annotations

import torch

from .sde import IRSDE, SDEStepOutput, randn_like

__all__ = ["SAMPLERS", "EulerMaruyamaSampler", "ODESampler", "PosteriorSampler", "make_sampler"]


class _Sampler:
    """Shared state of a reverse sampler: the SDE and the timestep list set by ``set_timesteps``.

    ``clip_x0`` ("clip denoised" of DDPM samplers): clamp the network's implied estimate of the
    clean image to ``x0_range`` (images live in [0, 1]) before stepping. Early on ``x0`` is
    recovered by dividing by ``exp(-theta_bar_t dt)`` (0.005 at t = T), so an imperfect network's
    noise error is amplified up to 200x; the clamp stops that from compounding over the steps.
    With the true noise of an in-range image it changes nothing.
    """

    name = "base"

    def __init__(self, sde: IRSDE, num_steps: int | None = None, clip_x0: bool = False,
                 x0_range: tuple[float, float] = (0.0, 1.0)):
        self.sde = sde
        self.clip_x0 = bool(clip_x0)
        self.x0_range = (float(x0_range[0]), float(x0_range[1]))
        if self.x0_range[0] >= self.x0_range[1]:
            raise ValueError(f"x0_range must be (low, high) with low < high, got {x0_range}")
        self.set_timesteps(num_steps)

    def _clip(self, x0: torch.Tensor) -> torch.Tensor:
        return x0.clamp(*self.x0_range) if self.clip_x0 else x0

    def clipped_noise(self, model_output: torch.Tensor, t: int, sample: torch.Tensor,
                      mu: torch.Tensor) -> torch.Tensor:
        """The noise that the (clamped) x0 estimate implies; ``model_output`` itself without clipping."""
        if not self.clip_x0:
            return model_output
        x0 = self._clip(self.sde.predict_x0(sample, mu, model_output, t))
        return (sample - self.sde.marginal_mean(x0, mu, t)) / self.sde.marginal_std(t, sample)

    def set_timesteps(self, num_steps: int | None = None) -> None:
        self.timesteps = self.sde.timesteps(num_steps)

    def prev_timestep(self, t: int) -> int:
        i = self.timesteps.index(int(t))
        return self.timesteps[i + 1] if i + 1 < len(self.timesteps) else 0

    def step(self, model_output: torch.Tensor, t: int, sample: torch.Tensor,
             generator: torch.Generator | None = None, *, mu: torch.Tensor) -> SDEStepOutput:
        raise NotImplementedError


class EulerMaruyamaSampler(_Sampler):
    """The paper's sampler: reverse-time SDE, Euler-Maruyama discretisation."""

    name = "em"

    def step(self, model_output: torch.Tensor, t: int, sample: torch.Tensor,
             generator: torch.Generator | None = None, *, mu: torch.Tensor) -> SDEStepOutput:
        prev = self.prev_timestep(t)
        mean = self.sde.reverse_sde_mean(sample, mu, self.clipped_noise(model_output, t, sample, mu), t, prev)
        theta = self.sde._theta_span(t, prev, sample)
        std = torch.sqrt(2 * theta * self.sde.max_sigma**2 * self.sde.dt)
        # the reference subtracts its dispersion term: the same law, and the same path for the same draws
        return SDEStepOutput(prev_sample=mean - std * randn_like(sample, generator), prev_sample_mean=mean)


class PosteriorSampler(_Sampler):
    """The current default of the reference code: estimate x_0, then sample ``x_{t-1} | x_t, x_0``.

    Exact for any subset of timesteps (the posterior of an OU process between two times), so
    ``num_steps < T`` is well defined; its last step (to t = 0) has zero noise.
    """

    name = "posterior"

    def step(self, model_output: torch.Tensor, t: int, sample: torch.Tensor,
             generator: torch.Generator | None = None, *, mu: torch.Tensor) -> SDEStepOutput:
        prev = self.prev_timestep(t)
        x0 = self._clip(self.sde.predict_x0(sample, mu, model_output, t))
        mean = self.sde.optimal_reverse_mean(sample, x0, mu, t, prev)
        std = self.sde.optimal_reverse_std(t, sample, prev)
        return SDEStepOutput(prev_sample=mean + std * randn_like(sample, generator), prev_sample_mean=mean)


class ODESampler(_Sampler):
    """Deterministic: Euler steps of the probability-flow ODE (the reference's ``reverse_ode``)."""

    name = "ode"

    def step(self, model_output: torch.Tensor, t: int, sample: torch.Tensor,
             generator: torch.Generator | None = None, *, mu: torch.Tensor) -> SDEStepOutput:
        prev = self.prev_timestep(t)
        mean = self.sde.reverse_ode_mean(sample, mu, self.clipped_noise(model_output, t, sample, mu), t, prev)
        return SDEStepOutput(prev_sample=mean, prev_sample_mean=mean)


SAMPLERS: dict[str, type[_Sampler]] = {"em": EulerMaruyamaSampler, "posterior": PosteriorSampler, "ode": ODESampler}


def make_sampler(name: str, sde: IRSDE, num_steps: int | None = None, clip_x0: bool = False) -> _Sampler:
    try:
        cls = SAMPLERS[name]
    except KeyError:
        raise ValueError(f"unknown sampler {name!r}; valid: {sorted(SAMPLERS)}") from None
    return cls(sde, num_steps, clip_x0=clip_x0)
