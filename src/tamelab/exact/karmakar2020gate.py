r"""Training a single ReLU gate in linear time (Karmakar & Mukherjee, arXiv:2005.04211; Mukherjee thesis ch. 3).

Realizable setting :math:`y=\sigma(w^*\cdot x)`, :math:`x\sim\mathcal D` symmetric (:math:`x\overset{d}{=}-x`).
The Tron-style (GLM-tron) mini-batch update (spec constructive.md §3.1, reconstructed form)

.. math:: w_{t+1}=w_t+\eta\,\frac1b\sum_{i}\big(y_{t,i}-\sigma(w_t\cdot x_{t,i})\big)x_{t,i},\qquad w_1=0,

differs from SGD on :math:`\tfrac12(y-\sigma(w\cdot x))^2` only by dropping the factor
:math:`\mathbf 1\{w\cdot x>0\}` — so unlike SGD it moves from :math:`w=0`. With symmetry,
:math:`\mathbb E[(\sigma(w^*\cdot x)-\sigma(w\cdot x))x]=\tfrac12\Sigma(w^*-w)`, which gives (derivation in the
spec) :math:`\mathbb E\|w_T-w^*\|^2\le(1-\rho)^{T-1}\|w^*\|^2` with
:math:`\rho=\lambda_{\min}^2/(4(\tfrac14\lambda_{\max}^2+m_4/b))` for the step
:math:`\eta=\lambda_{\min}/(2(\tfrac14\lambda_{\max}^2+m_4/b))`, where :math:`m_4=\sup_{|u|=1}\mathbb E[(u\cdot x)^2|x|^2]`.
The paper's constants may differ; the geometric rate is what is tested.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import InputError

__all__ = ["GateRun", "gate_constants", "train_relu_gate", "laplace_inputs"]


def laplace_inputs(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """Symmetric non-Gaussian inputs: i.i.d. Laplace coordinates with unit variance."""
    return rng.laplace(0.0, 1.0 / np.sqrt(2.0), size=(n, d))


def gate_constants(sampler, d: int, b: int, *, seed: int = 0, n_mc: int = 200_000) -> dict[str, float]:
    """λ_min, λ_max of Σ = E[xxᵀ], the fourth-moment constant m_4 (Monte-Carlo; E|x|⁴ upper bound and the
    sup over eigen-directions), the theorem's step η and rate ρ for batch size ``b``."""
    rng = np.random.default_rng([seed, 99])
    X = sampler(rng, n_mc, d)
    S = X.T @ X / n_mc
    ev, V = np.linalg.eigh(S)
    sq = (X**2).sum(1)
    # sup over unit u of E[(u·x)² |x|²] = λ_max of E[|x|² x xᵀ]
    m4 = float(np.linalg.eigvalsh((X * sq[:, None]).T @ X / n_mc).max())
    c = 0.25 * ev.max() ** 2 + m4 / b
    return {"lambda_min": float(ev.min()), "lambda_max": float(ev.max()), "m4": m4, "eta": float(ev.min() / (2 * c)),
            "rho": float(ev.min() ** 2 / (4 * c)), "E_norm4": float((sq**2).mean())}


@dataclasses.dataclass
class GateRun:
    method: str
    batch: int
    eta: float
    rho: float
    errors: np.ndarray  # ‖w_t − w*‖, t = 1..T+1
    bound: np.ndarray  # sqrt((1−ρ)^{t−1}) ‖w*‖
    seed: int

    @property
    def final_error(self) -> float:
        return float(self.errors[-1])

    def log_slope(self) -> float:
        """Least-squares slope of log ‖w_t − w*‖ against t over the part above 1e-13 (numerical floor)."""
        e = self.errors
        ok = e > 1e-13
        t = np.arange(len(e))[ok]
        return float(np.polyfit(t, np.log(e[ok]), 1)[0]) if ok.sum() > 2 else float("-inf")


def train_relu_gate(w_star, *, steps: int = 3000, batch: int = 8, method: str = "tron", eta: float | None = None,
                    sampler=laplace_inputs, seed: int = 0, relu_prime_zero: float = 0.0) -> GateRun:
    """Stream fresh mini-batches and run the Tron update (``method="tron"``) or SGD on the squared loss
    (``method="sgd"``, derivative ``relu_prime_zero`` at 0), from w = 0. Returns the error trajectory."""
    w_star = np.asarray(w_star, dtype=float).reshape(-1)
    d = w_star.shape[0]
    if method not in ("tron", "sgd"):
        raise InputError("method", f"unknown method {method!r}", "use tron or sgd")
    if batch < 1 or steps < 1:
        raise InputError("batch", "batch and steps must be >= 1")
    const = gate_constants(sampler, d, batch, seed=seed)
    eta = const["eta"] if eta is None else float(eta)
    rng = np.random.default_rng(seed)
    w = np.zeros(d)
    errs = [np.linalg.norm(w - w_star)]
    for _ in range(steps):
        X = sampler(rng, batch, d)
        y = np.maximum(X @ w_star, 0.0)
        z = X @ w
        r = y - np.maximum(z, 0.0)
        if method == "tron":
            g = X.T @ r / batch
        else:
            gate = np.where(z > 0, 1.0, np.where(z < 0, 0.0, relu_prime_zero))
            g = X.T @ (r * gate) / batch
        w = w + eta * g
        errs.append(np.linalg.norm(w - w_star))
    errs = np.asarray(errs)
    t = np.arange(len(errs))
    bound = np.sqrt((1 - const["rho"]) ** t) * np.linalg.norm(w_star)
    return GateRun(method, batch, eta, const["rho"], errs, bound, seed)
