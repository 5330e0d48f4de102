"""The mean-reverting SDE of IR-SDE (its samplers are in :mod:`daclip.restoration.samplers`).

``dx = theta_t (mu - x) dt + sigma_t dW`` with ``sigma_t^2 = 2 theta_t lambda^2``: the clean image
``x_0`` drifts towards the degraded image ``mu`` plus Gaussian noise of std ``lambda``. Restoration
runs it backwards from ``x_T = mu + lambda z``.

Like a diffusers scheduler this object holds no weights: a config (:class:`SDEConfig`, saved as
JSON in checkpoints), the forward marginal (``add_noise``) for training, and samplers whose
``step(model_output, t, sample, generator, mu=...)`` returns :class:`SDEStepOutput`. The network
predicts the noise ``eps`` of the forward marginal; the samplers turn it into a score or an
``x_0`` estimate. Timesteps are integers ``1..T``; ``t = 0`` is the clean image.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch

__all__ = ["IRSDE", "SDEConfig", "SDEStepOutput", "randn_like"]


@dataclass(frozen=True)
class SDEConfig:
    T: int = 100
    max_sigma: float = 50.0 / 255.0  # lambda: the stationary std, in [0, 1] image units
    eps: float = 0.005  # exp(-theta_bar_T dt): how much of x_0 survives at t = T
    schedule: str = "cosine"
    # what the network outputs: "noise" (eps of the forward marginal, the reference) or "x0" (the
    # clean image as a residual on the LQ image, ``x_0 - mu``); the samplers always get eps
    prediction: str = "noise"

    def __post_init__(self) -> None:
        if self.T < 1:
            raise ValueError(f"T must be >= 1, got {self.T}")
        if not 0 < self.eps < 1:
            raise ValueError(f"eps must be in (0, 1), got {self.eps}")
        if self.max_sigma <= 0:
            raise ValueError(f"max_sigma must be > 0, got {self.max_sigma}")
        if self.schedule not in THETA_SCHEDULES:
            raise ValueError(f"unknown theta schedule {self.schedule!r}; valid: {sorted(THETA_SCHEDULES)}")
        if self.prediction not in PREDICTIONS:
            raise ValueError(f"unknown prediction {self.prediction!r}; valid: {list(PREDICTIONS)}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SDEConfig:
        return cls(**data)


def cosine_thetas(T: int, s: float = 0.008) -> torch.Tensor:
    """IR-SDE's cosine schedule: ``1 - alphā`` of a T+2 step cosine, ends dropped (T+1 entries)."""
    steps = T + 2
    x = torch.linspace(0, steps, steps + 1, dtype=torch.float64)
    alphas_cumprod = torch.cos(((x / steps) + s) / (1 + s) * math.pi * 0.5) ** 2
    alphas_cumprod = alphas_cumprod / alphas_cumprod[0]
    return 1 - alphas_cumprod[1:-1]


def constant_thetas(T: int) -> torch.Tensor:
    return torch.ones(T + 1, dtype=torch.float64)


THETA_SCHEDULES = {"cosine": cosine_thetas, "constant": constant_thetas}
PREDICTIONS = ("noise", "x0")


@dataclass
class SDEStepOutput:
    prev_sample: torch.Tensor  # x at the previous timestep, noise included
    prev_sample_mean: torch.Tensor  # the same without the noise term (use it for the last step)


class IRSDE:
    """Schedules and closed forms of the mean-reverting SDE (float64 tables, cast on use)."""

    def __init__(self, config: SDEConfig | None = None):
        self.config = config or SDEConfig()
        c = self.config
        self.T = c.T
        self.max_sigma = c.max_sigma
        self.thetas = THETA_SCHEDULES[c.schedule](c.T)  # theta_t, t = 0..T
        self.thetas_cumsum = torch.cumsum(self.thetas, 0) - self.thetas[0]  # theta_bar_t, theta_bar_0 = 0
        self.dt = -math.log(c.eps) / float(self.thetas_cumsum[-1])
        self.sigmas = torch.sqrt(2 * self.thetas * c.max_sigma**2)
        self.sigma_bars = torch.sqrt(c.max_sigma**2 * (1 - torch.exp(-2 * self.thetas_cumsum * self.dt)))

    # --- helpers -----------------------------------------------------------------------------
    @staticmethod
    def _index(t: int | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=torch.long)
        return t.reshape(-1).expand(like.shape[0]) if t.numel() == 1 else t.reshape(-1)

    def _gather(self, table: torch.Tensor, t: int | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """``table[t]`` shaped to broadcast over a ``B x C x H x W`` tensor."""
        idx = self._index(t, like).cpu()
        values = table[idx].to(device=like.device, dtype=like.dtype)
        return values.reshape(-1, *([1] * (like.dim() - 1)))

    def timesteps(self, num_steps: int | None = None) -> list[int]:
        """Descending integer timesteps ``T..1`` for sampling; ``num_steps < T`` skips evenly."""
        n = self.T if num_steps is None else int(num_steps)
        if not 1 <= n <= self.T:
            raise ValueError(f"steps must be in 1..{self.T}, got {n}")
        grid = torch.linspace(self.T, 1, n, dtype=torch.float64).round().long().tolist()
        return sorted(set(grid), reverse=True)

    # --- forward marginal -------------------------------------------------------------------
    def mean_weight(self, t: int | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """``exp(-theta_bar_t dt)``: the share of ``x_0 - mu`` left at time t."""
        return torch.exp(-self._gather(self.thetas_cumsum, t, like) * self.dt)

    def marginal_mean(self, x0: torch.Tensor, mu: torch.Tensor, t: int | torch.Tensor) -> torch.Tensor:
        return mu + (x0 - mu) * self.mean_weight(t, x0)

    def marginal_std(self, t: int | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return self._gather(self.sigma_bars, t, like)

    def add_noise(
        self, x0: torch.Tensor, mu: torch.Tensor, noise: torch.Tensor, t: int | torch.Tensor
    ) -> torch.Tensor:
        """Sample of the forward marginal ``x_t | x_0`` for the given standard-normal ``noise``."""
        return self.marginal_mean(x0, mu, t) + self.marginal_std(t, x0) * noise

    def sample_timesteps(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randint(1, self.T + 1, (batch,), generator=generator)

    def start_state(self, mu: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``x_T = mu + lambda z`` (the stationary distribution, up to eps of x_0)."""
        return mu + self.max_sigma * randn_like(mu, generator)

    # --- forward process, step by step (used to check the marginal) --------------------------
    def forward_step(
        self, x: torch.Tensor, mu: torch.Tensor, t: int, generator: torch.Generator | None = None,
        exact: bool = True,
    ) -> torch.Tensor:
        """``x_t -> x_{t+1}``: the exact OU transition, or one Euler-Maruyama step (``exact=False``)."""
        theta = float(self.thetas[t + 1])
        z = randn_like(x, generator)
        if exact:
            a = math.exp(-theta * self.dt)
            return mu + (x - mu) * a + self.max_sigma * math.sqrt(1 - a * a) * z
        sigma = float(self.sigmas[t + 1])
        return x + self.drift(x, mu, t + 1) + sigma * math.sqrt(self.dt) * z

    def drift(self, x: torch.Tensor, mu: torch.Tensor, t: int | torch.Tensor) -> torch.Tensor:
        """``theta_t (mu - x) dt``: the forward step's deterministic part."""
        return self._theta_span(t, None, x) * (mu - x) * self.dt

    # --- reverse quantities -------------------------------------------------------------------
    def score(self, noise_pred: torch.Tensor, t: int | torch.Tensor) -> torch.Tensor:
        return -noise_pred / self.marginal_std(t, noise_pred)

    def reverse_sde_mean(
        self, x: torch.Tensor, mu: torch.Tensor, noise_pred: torch.Tensor, t: int | torch.Tensor,
        prev_t: int | torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One reverse Euler-Maruyama step without its noise: ``x - [theta (mu - x) - sigma^2 score] dt``.

        From ``t`` to ``prev_t`` (default ``t - 1``), theta is summed over the skipped steps.
        """
        return self._reverse_mean(x, mu, noise_pred, t, prev_t, 1.0)

    def reverse_ode_mean(
        self, x: torch.Tensor, mu: torch.Tensor, noise_pred: torch.Tensor, t: int | torch.Tensor,
        prev_t: int | torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One step of the probability-flow ODE: ``x - [theta (mu - x) - sigma^2 score / 2] dt``."""
        return self._reverse_mean(x, mu, noise_pred, t, prev_t, 0.5)

    def _reverse_mean(self, x, mu, noise_pred, t, prev_t, score_weight: float) -> torch.Tensor:
        theta = self._theta_span(t, prev_t, x)
        sigma2 = 2 * theta * self.max_sigma**2
        return x - (theta * (mu - x) - score_weight * sigma2 * self.score(noise_pred, t)) * self.dt

    def optimal_reverse_mean(
        self, x_t: torch.Tensor, x0: torch.Tensor, mu: torch.Tensor, t: int | torch.Tensor,
        prev_t: int | torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Mean of ``x_{prev_t} | x_t, x_0`` (Gaussian posterior; IR-SDE's "optimum reverse step")."""
        a, b, c = self._abc(t, prev_t, x_t)
        term_t = a * (1 - c**2) / (1 - b**2)
        term_0 = c * (1 - a**2) / (1 - b**2)
        return term_t * (x_t - mu) + term_0 * (x0 - mu) + mu

    def optimal_reverse_std(
        self, t: int | torch.Tensor, like: torch.Tensor, prev_t: int | torch.Tensor | None = None
    ) -> torch.Tensor:
        a, b, c = self._abc(t, prev_t, like)
        var = (1 - a**2) * (1 - c**2) / (1 - b**2)
        return self.max_sigma * torch.sqrt(var.clamp_min(0))

    def predict_x0(self, x_t: torch.Tensor, mu: torch.Tensor, noise_pred: torch.Tensor,
                   t: int | torch.Tensor) -> torch.Tensor:
        """Invert the marginal: ``x_0 = (x_t - mu - sigma_bar eps) e^{theta_bar dt} + mu``."""
        return (x_t - mu - self.marginal_std(t, x_t) * noise_pred) / self.mean_weight(t, x_t) + mu

    def noise_from_output(self, output: torch.Tensor, x_t: torch.Tensor, mu: torch.Tensor,
                          t: int | torch.Tensor) -> torch.Tensor:
        """The noise ``eps`` that a network output means (``config.prediction``); samplers and losses take eps."""
        if self.config.prediction == "noise":
            return output
        return (x_t - self.marginal_mean(mu + output, mu, t)) / self.marginal_std(t, x_t)

    def x0_loss(self, noise_pred: torch.Tensor, x_t: torch.Tensor, x0: torch.Tensor, mu: torch.Tensor,
                t: torch.Tensor) -> torch.Tensor:
        """L1 between the implied clean image and the true one, equal weight for every t (use with x0 prediction)."""
        return (self.predict_x0(x_t, mu, noise_pred, t) - x0).abs().flatten(1).mean(1).mean()

    def training_target(self, x_t: torch.Tensor, x0: torch.Tensor, mu: torch.Tensor,
                        t: torch.Tensor) -> torch.Tensor:
        """What the predicted reverse mean is trained to match (the maximum-likelihood objective)."""
        return self.optimal_reverse_mean(x_t, x0, mu, t)

    def loss(self, noise_pred: torch.Tensor, x_t: torch.Tensor, x0: torch.Tensor, mu: torch.Tensor,
             t: torch.Tensor) -> torch.Tensor:
        """L1 between the network's one-step reverse mean and the optimal one, mean per sample then batch."""
        pred = self.reverse_sde_mean(x_t, mu, noise_pred, t)
        target = self.training_target(x_t, x0, mu, t)
        return (pred - target).abs().flatten(1).mean(1).mean()

    # --- internals ----------------------------------------------------------------------------
    def _prev(self, t: int | torch.Tensor, prev_t: int | torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
        t_idx = self._index(t, like)
        return t_idx - 1 if prev_t is None else self._index(prev_t, like)

    def _theta_span(self, t, prev_t, like: torch.Tensor) -> torch.Tensor:
        """Sum of theta over steps prev_t+1..t (= theta_t for one step)."""
        t_idx = self._index(t, like)
        p_idx = self._prev(t, prev_t, like)
        span = self.thetas_cumsum[t_idx.cpu()] - self.thetas_cumsum[p_idx.cpu()]
        # theta_bar is a cumsum shifted by theta_0, so one step's span is exactly theta_t
        return span.to(device=like.device, dtype=like.dtype).reshape(-1, *([1] * (like.dim() - 1)))

    def _abc(self, t, prev_t, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        t_idx = self._index(t, like).cpu()
        p_idx = self._prev(t, prev_t, like).cpu()
        bar_t = self.thetas_cumsum[t_idx]
        bar_p = self.thetas_cumsum[p_idx]
        shape = (-1, *([1] * (like.dim() - 1)))
        cast = {"device": like.device, "dtype": like.dtype}
        a = torch.exp(-(bar_t - bar_p) * self.dt).to(**cast).reshape(shape)
        b = torch.exp(-bar_t * self.dt).to(**cast).reshape(shape)
        c = torch.exp(-bar_p * self.dt).to(**cast).reshape(shape)
        return a, b, c


def randn_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard normal noise drawn on the generator's device (CPU by default), then moved to ``x``."""
    device = generator.device if generator is not None else x.device
    return torch.randn(x.shape, generator=generator, device=device, dtype=torch.float32).to(x.device, x.dtype)
