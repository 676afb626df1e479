r"""Training a single ReLU gate in linear time (Karmakar & Mukherjee, arXiv:2005.04211; Mukherjee thesis ch. 3).

Realizable setting :math:`y=\sigma(w^*\cdot x)`, :math:`x\sim\mathcal D` symmetric (:math:`x\overset{d}{=}-x`).
The Tron-style (GLM-tron) mini-batch update (spec constructive.md §3.1, reconstructed form)

.. math:: w_{t+1}=w_t+\eta\,\frac1b\sum_{i}\big(y_{t,i}-\sigma(w_t\cdot x_{t,i})\big)x_{t,i},\qquad w_1=0,

differs from SGD on :math:`\tfrac12(y-\sigma(w\cdot x))^2` only by dropping the factor
:math:`\mathbf 1\{w\cdot x>0\}` — so unlike SGD it moves from :math:`w=0`. With symmetry,
:math:`\mathbb E[(\sigma(w^*\cdot x)-\sigma(w\cdot x))x]=\tfrac12\Sigma(w^*-w)`, which gives (derivation in the
spec) :math:`\mathbb E\|w_T-w^*\|^2\le(1-\rho)^{T-1}\|w^*\|^2` with
:math:`\rho=\lambda_{\min}^2/(4(\tfrac14\lambda_{\max}^2+m_4/b))` for the step
:math:`\eta=\lambda_{\min}/(2(\tfrac14\lambda_{\max}^2+m_4/b))`, where
:math:`m_4=\sup_{|u|=1}\mathbb E[(u\cdot x)^2|x|^2]`. The paper's constants may differ; the geometric rate is what is
tested.

**Label poisoning** (the paper's second setting): each label is, with probability :math:`\beta` (independently of
:math:`x`), replaced by :math:`y+\xi` with :math:`|\xi|\le\theta^*` chosen by an adversary. Writing
:math:`g=g_0+g_\xi`, :math:`|\mathbb E[\xi\,\Delta\cdot x]|\le\beta\theta^*M_1|\Delta|` with
:math:`M_1=\sup_{|u|=1}\mathbb E|u\cdot x|\le\sqrt{\lambda_{\max}}`, :math:`\mathbb E|g|^2\le\tfrac32\mathbb E|g_0|^2
+3\mathbb E|g_\xi|^2` and :math:`\mathbb E|g_\xi|^2\le\beta\theta^{*2}\mathbb
E|x|^2/b+(1-\tfrac1b)(\beta\theta^*M_1)^2`; with the same step :math:`\eta`, :math:`e_t=\mathbb E|\Delta_t|^2` obeys
(our derivation)

.. math:: e_{t+1}\le(1-\tfrac\rho2)\,e_t+A\sqrt{e_t}+B,\qquad A=2\eta\beta\theta^*M_1,\quad
          B=3\eta^2\big(\beta\theta^{*2}\mathbb E|x|^2/b+(1-\tfrac1b)\beta^2\theta^{*2}M_1^2\big),

so :math:`e_t\le u_t` (the same recursion with equality, :math:`u_0=|w^*|^2`) and
:math:`\limsup e_t\le e^*`, :math:`\sqrt{e^*}=(A+\sqrt{A^2+2\rho B})/\rho`: an error floor that grows with
:math:`\beta\theta^*` and vanishes without attack (:func:`poisoning_bound`). The adversary of :class:`LabelAttack`
adds :math:`\xi=\theta^*\operatorname{sign}(u\cdot x)` for a fixed unit :math:`u`, which biases the mean update by
:math:`\beta\theta^*\mathbb E|u\cdot x|\,u` (for coordinate-symmetric inputs and :math:`u=e_1`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .._numerics import ERROR_FLOOR
from ..errors import InputError

__all__ = ["GateRun", "LabelAttack", "gate_constants", "train_relu_gate", "laplace_inputs", "poisoning_bound"]


def laplace_inputs(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """Symmetric non-Gaussian inputs: i.i.d. Laplace coordinates with unit variance."""
    return rng.laplace(0.0, 1.0 / np.sqrt(2.0), size=(n, d))


def gate_constants(sampler, d: int, b: int, *, seed: int = 0, n_mc: int = 200_000) -> dict[str, float]:
    """The theorem's constants for batch size ``b``: λ_min, λ_max of E[xxᵀ], m_4, the step η and the rate ρ.

    λ_min, λ_max of Σ = E[xxᵀ], the fourth-moment constant m_4 (Monte-Carlo; E|x|⁴ upper bound and the
    sup over eigen-directions), the theorem's step η and rate ρ for batch size ``b``.
    """
    rng = np.random.default_rng([seed, 99])
    X = sampler(rng, n_mc, d)
    S = X.T @ X / n_mc
    ev, V = np.linalg.eigh(S)
    sq = (X**2).sum(1)
    # sup over unit u of E[(u·x)² |x|²] = λ_max of E[|x|² x xᵀ]
    m4 = float(np.linalg.eigvalsh((X * sq[:, None]).T @ X / n_mc).max())
    c = 0.25 * ev.max() ** 2 + m4 / b
    return {
        "lambda_min": float(ev.min()),
        "lambda_max": float(ev.max()),
        "m4": m4,
        "eta": float(ev.min() / (2 * c)),
        "rho": float(ev.min() ** 2 / (4 * c)),
        "E_norm4": float((sq**2).mean()),
        "E_norm2": float(sq.mean()),
    }


@dataclasses.dataclass
class LabelAttack:
    """Online label poisoning:

    with probability ``prob`` a label gets ``magnitude·sign(direction·x)`` added (``|ξ| <= magnitude``); ``direction``
    defaults to the first coordinate axis.
    """

    prob: float
    magnitude: float
    direction: np.ndarray | None = None

    def __post_init__(self):
        if not 0.0 <= self.prob <= 1.0 or self.magnitude < 0:
            raise InputError("attack", f"need 0 <= prob <= 1 and magnitude >= 0, got {self.prob}, {self.magnitude}")

    def noise(self, rng: np.random.Generator, X: np.ndarray) -> np.ndarray:
        """The label noise ξ for the rows of ``X``: ``magnitude·sign(direction·x)`` with probability ``prob``."""
        u = np.eye(X.shape[1])[0] if self.direction is None else np.asarray(self.direction, dtype=float)
        hit = rng.random(X.shape[0]) < self.prob
        return np.where(hit, self.magnitude * np.sign(X @ u), 0.0)


def poisoning_bound(
    const: dict[str, float], prob: float, magnitude: float, batch: int, steps: int, w_star_norm: float
) -> tuple[np.ndarray, float]:
    """The derived bound on sqrt(E|w_t - w*|^2) under label poisoning for t = 0..steps, and its limit.

    The derived bound on sqrt(E|w_t - w*|^2) under label poisoning (module docstring) for t = 0..steps, and its
    limit sqrt(e*) (the error floor). Uses M1 <= sqrt(lambda_max) and the Monte-Carlo E|x|^2 of ``const``.
    """
    eta, rho = const["eta"], const["rho"]
    M1 = np.sqrt(const["lambda_max"])
    A = 2 * eta * prob * magnitude * M1
    B = 3 * eta**2 * (prob * magnitude**2 * const["E_norm2"] / batch + (1 - 1 / batch) * (prob * magnitude * M1) ** 2)
    u = np.empty(steps + 1)
    u[0] = w_star_norm**2
    for t in range(steps):
        u[t + 1] = (1 - rho / 2) * u[t] + A * np.sqrt(u[t]) + B
    floor = (A + np.sqrt(A**2 + 2 * rho * B)) / rho
    return np.sqrt(u), float(floor)


@dataclasses.dataclass
class GateRun:
    """One run of Tron or SGD on a ReLU gate: errors ‖w_t − w*‖ against the theorem's bound."""

    method: str
    batch: int
    eta: float
    rho: float
    errors: np.ndarray  # ‖w_t − w*‖, t = 1..T+1
    bound: np.ndarray  # sqrt((1−ρ)^{t−1}) ‖w*‖; under an attack the poisoning bound of :func:`poisoning_bound`
    seed: int
    attack: LabelAttack | None = None
    #: under an attack: the bound's limit sqrt(e*) (the guaranteed error floor); 0 without attack.
    floor_bound: float = 0.0
    weights: np.ndarray | None = dataclasses.field(default=None, repr=False)

    @property
    def final_error(self) -> float:
        """The last error ‖w_{T+1} − w*‖."""
        return float(self.errors[-1])

    def log_slope(self) -> float:
        """Least-squares slope of log ‖w_t − w*‖ against t over the part above 1e-13 (numerical floor)."""
        e = self.errors
        ok = e > ERROR_FLOOR
        t = np.arange(len(e))[ok]
        return float(np.polyfit(t, np.log(e[ok]), 1)[0]) if ok.sum() > 2 else float("-inf")


def train_relu_gate(
    w_star,
    *,
    steps: int = 3000,
    batch: int = 8,
    method: str = "tron",
    eta: float | None = None,
    sampler=laplace_inputs,
    seed: int = 0,
    relu_prime_zero: float = 0.0,
    w0=None,
    attack: LabelAttack | None = None,
    constants: dict[str, float] | None = None,
) -> GateRun:
    """Stream fresh mini-batches and run the Tron update or SGD on the squared loss, optionally under attack.

    Stream fresh mini-batches and run the Tron update (``method="tron"``) or SGD on the squared loss
    (``method="sgd"``, derivative ``relu_prime_zero`` at 0), from ``w0`` (default 0), optionally under a label
    ``attack``. The data stream depends on ``seed`` only (not on the method or the attack), so runs with the same
    seed see the same inputs. ``constants``: a :func:`gate_constants` result for this sampler, d and batch (computed
    when omitted; pass it to share one Monte-Carlo estimate between runs). Returns the error trajectory and the
    theorem's bound.
    """
    w_star = np.asarray(w_star, dtype=float).reshape(-1)
    d = w_star.shape[0]
    if method not in ("tron", "sgd"):
        raise InputError("method", f"unknown method {method!r}", "use tron or sgd")
    if batch < 1 or steps < 1:
        raise InputError("batch", "batch and steps must be >= 1")
    const = gate_constants(sampler, d, batch, seed=seed) if constants is None else constants
    custom_step = eta is not None and float(eta) != const["eta"]
    eta = const["eta"] if eta is None else float(eta)
    rng = np.random.default_rng(seed)
    rng_attack = np.random.default_rng([seed, 3])
    w = np.zeros(d) if w0 is None else np.asarray(w0, dtype=float).reshape(d).copy()
    errs = [np.linalg.norm(w - w_star)]
    for _ in range(steps):
        X = sampler(rng, batch, d)
        y = np.maximum(X @ w_star, 0.0)
        if attack is not None:
            y = y + attack.noise(rng_attack, X)
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
    e0 = float(np.linalg.norm(errs[0]))
    if attack is None:
        bound, floor = np.sqrt((1 - const["rho"]) ** t) * e0, 0.0
    else:
        bound, floor = poisoning_bound(const, attack.prob, attack.magnitude, batch, steps, e0)
    if custom_step:  # the theorem's bound holds for its own step only
        bound, floor = np.full(len(errs), np.nan), float("nan")
    return GateRun(method, batch, eta, const["rho"], errs, bound, seed, attack, floor, w)
