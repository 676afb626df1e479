r"""Certified extreme eigenpairs of a symmetric operator: block Krylov with a deflated restart check.

Two different things are certified, separately (see ``docs/landscape.md``, *Certificates*):

1. **These are eigenpairs** (deterministic, up to the measured rounding of one product). For the
   Ritz vectors :math:`U=[u_1..u_k]` (orthonormal) with Ritz values :math:`\theta_i` and residual
   block :math:`R=HU-U\Theta`, each :math:`\theta_i` is within :math:`r_i=\|Hu_i-\theta_iu_i\|` of an
   eigenvalue (Bauer–Fike for symmetric H), and — this is what counts multiplicities — there are
   :math:`k` eigenvalues :math:`\lambda_{j_1},\dots,\lambda_{j_k}` (distinct indices) with
   :math:`|\theta_i-\lambda_{j_i}|\le\|R\|_2` (Kahan's theorem; Parlett, *The Symmetric Eigenvalue
   Problem*, Thm 11.5.2). ``radii`` and ``block_radius`` add the measured rounding error of a product
   (``noise``) and the orthonormality defect of :math:`U`.
2. **They are the k extreme ones** (probabilistic). A residual says nothing about eigenvalues the
   Krylov space never saw: a repeated extreme eigenvalue appears once in a single-vector Krylov space,
   and an eigenvector orthogonal to the start vector is never found. After the residuals pass, a
   *check* runs Lanczos on the deflated operator :math:`PHP`, :math:`P=I-UU^\top`, from a fresh
   Gaussian vector in :math:`U^\perp`. By Courant–Fischer :math:`\lambda_{k+1}(H)\le\lambda_{\max}(PHP|_{U^\perp})`,
   and by Kuczyński & Woźniakowski (SIAM J. Matrix Anal. Appl. 13, 1992, Thm 4.2) after :math:`q` steps
   the check's top Ritz value :math:`\theta_c` satisfies
   :math:`P[\lambda_{\max}-\theta_c>\varepsilon\,s]\le1.648\sqrt{n}\,e^{-\sqrt\varepsilon(2q-1)}` with :math:`s` the
   spectral spread. If the check finds a Ritz value beyond :math:`\theta_k`, its vector joins the
   basis (the block grows) and the iteration resumes; otherwise the result carries
   ``extremality_bound`` :math:`=\theta_c+\varepsilon s` (every eigenvalue not found is below it with
   probability :math:`\ge 1-p`, ``extremality_p``; the spread :math:`s` is estimated by the extreme
   Ritz values seen) and ``separated`` when that bound lies below :math:`\theta_k-\|R\|_2`.
   ``extremality="exact"`` when the basis spans the whole space.

The floor: a product computed in floating point carries an error :math:`\delta` (measured at the start
from the linearity defect :math:`\|H(a+b)/\sqrt2-(Ha+Hb)/\sqrt2\|`; about :math:`c\sqrt n\,\epsilon\|H\|` for
dense :math:`H`), so no residual below a few :math:`\delta` can be certified. A requested ``tol`` below
the floor is raised to it and the result says so (``tol_raised``, ``notes``); ask for
``CurvatureOperator(..., dtype="float64")`` to push the floor down. Residuals that stop decreasing end
the iteration with ``not_converged`` and a note.

Per step the work is the products of the new block plus :math:`O(nm)` for the orthogonalisation
against the basis (classical Gram–Schmidt twice) and the projected matrix; the basis is capped by
memory and thick-restarted (Wu & Simon, SIAM J. Matrix Anal. Appl. 22, 2000) around the wanted Ritz
vectors when full.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import torch

from .._numerics import REORTH_CANCELLATION
from .._rng import resolve_seed
from ..errors import InputError
from ..result import Result, Status

__all__ = ["EigResult", "products", "top_eigenpairs"]

#: the numbers of :func:`top_eigenpairs` that are not arguments (tested values).
ERROR_SAFETY = 2.0  # product error model δ + ρ‖Hv‖ measured on one vector: radii use this multiple of it
FLOOR_NOISE_FACTOR = 3.0  # achievable residual ≈ this × the product error δ + ρ|θ|
FLOOR_EPS_FACTOR = 16.0  # ... plus this × eps(float64) × max |θ| (the float64 Rayleigh–Ritz and combinations)
STAGNATION_STEPS = 4  # residual tests without a 10 % improvement that end the iteration
KW_CONSTANT = 1.648  # Kuczyński–Woźniakowski constant
EPS64 = float(np.finfo(np.float64).eps)
SYMMETRY_FACTOR = 16.0  # a dense matrix is symmetric when max|A − Aᵀ| ≤ this × n × eps(dtype) × max|A|
TWIN_DATA_BYTES = 2**30  # largest data a float64 twin of a float32 operator may copy (noise measurement)


def products(op, Q: torch.Tensor) -> torch.Tensor:
    """``(H qᵢ)ᵢ`` for a ``b × n`` block of row vectors, through the best interface ``op`` has."""
    if hasattr(op, "matmat_rows"):
        return op.matmat_rows(Q)
    if hasattr(op, "matmat"):
        return op.matmat(Q.T).T
    if hasattr(op, "matvec"):
        return torch.stack([op.matvec(q) for q in Q])
    return (op @ Q.T).T


def _op_dtype_device(op) -> tuple[torch.dtype, torch.device]:
    dt = getattr(op, "dtype", torch.float64)
    if not isinstance(dt, torch.dtype):
        dt = torch.float64
    dev = getattr(op, "device", None)
    if not isinstance(dev, torch.device):
        dev = op.device if isinstance(op, torch.Tensor) else torch.device("cpu")
    return dt, dev


@dataclasses.dataclass
class EigResult(Result):
    r"""Extreme eigenpairs with their certificates (module docstring: what each field proves).

    Attributes:
        eigenvalues: Ritz values, descending for ``which="largest"``, ascending for ``"smallest"``.
        residuals: :math:`r_i=\\|Hu_i-\\theta_iu_i\\|` (from stored products, or one product each).
        converged: :math:`r_i\\le\\max(\\mathrm{tol}|\\theta_i|,\\mathrm{floor})`.
        radii: certified half-widths :math:`r_i+\\delta+2\\eta|\\theta_i|` (an eigenvalue lies in
            :math:`[\\theta_i-\\rho_i,\\theta_i+\\rho_i]`).
        block_radius: :math:`\\|R\\|_2+\\delta\\sqrt k+2\\eta\\max|\\theta|` — k eigenvalues, counted with multiplicity,
            one within it of each :math:`\\theta_i`.
        error_bounds: the Kato–Temple *estimate* :math:`\\min(r,r^2/\\hat\\delta)` with the gap :math:`\\hat\\delta` to
            the other Ritz values (valid only if no eigenvalue near θ was missed; never used to certify).
        noise, noise_relative: the product error model :math:`\\|\\tilde Hv-Hv\\|\\le\\delta+\\rho\\|Hv\\|` for unit
            v, measured on one vector (linearity defect; for a float32 CurvatureOperator also against its float64
            twin, which sees errors that are linear in v).
        floor: the smallest certifiable residual; ``tol_raised`` when ``tol·|θ|`` was below it.
        extremality: ``"exact"``, ``"probabilistic"``, ``"not checked"`` or ``"not certified"``.
        extremality_bound: with probability ≥ 1 − ``extremality_p`` every eigenvalue not among these is
            ≤ it (largest) / ≥ it (smallest).
        separated: the bound lies beyond :math:`\\theta_k\\mp` ``block_radius``: these are the k extreme ones
            (with that probability).
        hvps: all products (Krylov, noise measurement, residuals, checks); ``check_hvps`` of them in checks.
        krylov_dim: final basis size; ``restarts``: thick restarts; ``block_size``: final block width.
        product_seconds: wall time spent in products (the floor of this run is
            ``krylov_dim × product_seconds / hvps``; ``seconds`` over it is the solver's overhead factor).
    """

    kind = "eigen"

    eigenvalues: list[float] = dataclasses.field(default_factory=list)
    residuals: list[float] = dataclasses.field(default_factory=list)
    converged: list[bool] = dataclasses.field(default_factory=list)
    error_bounds: list[float] = dataclasses.field(default_factory=list)
    hvps: int = 0
    krylov_dim: int = 0
    which: str = "largest"
    radii: list[float] = dataclasses.field(default_factory=list)
    block_radius: float = float("nan")
    tol: float = float("nan")
    tol_raised: bool = False
    noise: float = float("nan")
    noise_relative: float = float("nan")
    floor: float = float("nan")
    extremality: str = "not checked"
    extremality_bound: float = float("nan")
    extremality_p: float = float("nan")
    separated: bool = False
    check_hvps: int = 0
    checks: int = 0
    restarts: int = 0
    block_size: int = 1
    product_seconds: float = 0.0
    notes: list[str] = dataclasses.field(default_factory=list)
    eigenvectors: torch.Tensor | None = dataclasses.field(default=None, repr=False)


class _Krylov:
    """Orthonormal basis ``V`` (rows), optionally its products ``HV``, the projection ``M = V H Vᵀ`` and the *frontier*:

    the newest vectors, whose products' components outside the basis are not yet in it.
    """

    def __init__(self, op, n: int, dtype, device, cap: int, keep: bool) -> None:
        self.op, self.n, self.dtype, self.device, self.cap, self.keep = op, n, dtype, device, cap, keep
        rows = min(cap, 64)
        self.V = torch.empty(rows, n, dtype=dtype, device=device)
        self.HV = torch.empty(rows, n, dtype=dtype, device=device) if keep else None
        self.M = np.zeros((cap, cap))
        self.m = 0
        self.F = np.zeros(0, dtype=int)
        self.PF: torch.Tensor | None = None
        self.products = 0
        self.pure = True  # a block Krylov space from its start block: M is banded
        self.width = 0  # widest block so far
        self.eps = torch.finfo(dtype).eps
        self.mv_seconds = 0.0  # time spent in products (to schedule the Rayleigh–Ritz tests)
        self.ritz_seconds = 0.0
        self.ritz_calls = 0
        self.second_passes = 0
        self.user_start = False  # a caller's start vector: the symmetry probe uses a fresh random vector
        self.asym, self.asym_tol = 0.0, 0.0  # measured |bᵀHa − aᵀHb| and what the product error allows

    def mv(self, Q: torch.Tensor) -> torch.Tensor:
        t = time.perf_counter()
        self.products += int(Q.shape[0])
        P = products(self.op, Q).to(dtype=self.dtype, device=self.device)
        self.mv_seconds += time.perf_counter() - t
        return P

    def _ensure(self, rows: int) -> None:
        if self.V.shape[0] >= rows:
            return
        new = min(self.cap, max(rows, 2 * self.V.shape[0]))
        for name in ("V", "HV"):
            old = getattr(self, name)
            if old is None:
                continue
            buf = torch.empty(new, self.n, dtype=self.dtype, device=self.device)
            buf[: self.m] = old[: self.m]
            setattr(self, name, buf)

    def orth(
        self, W: torch.Tensor, ref: torch.Tensor | None = None, extra: torch.Tensor | None = None, passes: int = 2
    ) -> torch.Tensor:
        """Rows of ``W`` orthonormalised against the basis, ``extra`` and each other.

        Rows of ``W`` orthonormalised against the basis (and ``extra`` rows) and each other (classical
        Gram–Schmidt twice, a third pass when a norm collapses); rows that vanish (norm ≤ 10 eps × ``ref``) are
        dropped.
        """
        B = self.V[: self.m]
        if extra is not None and extra.shape[0]:
            B = torch.cat([B, extra]) if self.m else extra
        if passes:
            W = W.clone()
        n0 = W.norm(dim=1)
        ref = n0 if ref is None else ref
        for _ in range(passes):  # passes=0: the caller has orthogonalised W against the basis already
            if B.shape[0]:
                W -= (W @ B.T) @ B
        out: list[torch.Tensor] = []
        for j in range(W.shape[0]):
            w = W[j]
            Qo = torch.stack(out) if out else None
            if Qo is not None:
                for _ in range(2):
                    w = w - (Qo @ w) @ Qo
            nw = float(w.norm())
            if nw < REORTH_CANCELLATION * float(n0[j]):  # heavy cancellation: one more full pass
                if B.shape[0]:
                    w = w - (B @ w) @ B
                if Qo is not None:
                    w = w - (Qo @ w) @ Qo
                nw = float(w.norm())
            if not np.isfinite(nw) or nw == 0.0 or nw <= 10 * self.eps * float(ref[j]):
                continue
            out.append(w / nw)
        return torch.stack(out) if out else W[:0]

    def add(self, Q: torch.Tensor, *, pure: bool = True) -> None:
        """Append orthonormal rows ``Q`` (⊥ basis), compute their products, extend ``M``; they become the frontier."""
        b = int(Q.shape[0])
        if b == 0:
            return
        if self.m + b > self.cap:
            raise RuntimeError("basis capacity exceeded")  # the caller restarts before this
        P = self.mv(Q)
        self._ensure(self.m + b)
        m = self.m
        self.V[m : m + b] = Q
        if self.keep:
            self.HV[m : m + b] = P
        C = (self.V[: m + b] @ P.T).to(torch.float64).cpu().numpy()
        self.M[: m + b, m : m + b] = C
        self.M[m : m + b, :m] = C[:m].T
        blk = C[m:]
        self.M[m : m + b, m : m + b] = (blk + blk.T) / 2
        self.F = np.arange(m, m + b)
        self.PF = P
        self.m = m + b
        self.width = max(self.width, b)
        self.pure = self.pure and pure

    def residual_block(self) -> tuple[torch.Tensor, np.ndarray]:
        """The frontier products' components outside the basis, ``W``, and their Gram matrix ``W Wᵀ``.

        The first Gram–Schmidt pass takes its coefficients from ``M`` (computed in float64 when the products
        arrived: no pass over the basis); the second pass runs only where the first cancelled more than 1/√2 of a
        vector's norm (Daniel–Gragg–Kaufman–Stewart), which is where orthogonality would otherwise be lost.
        """
        Vm = self.V[: self.m]
        C1 = torch.from_numpy(np.ascontiguousarray(self.M[: self.m, self.F].T)).to(self.dtype).to(self.device)
        W = self.PF - C1 @ Vm
        if bool((W.norm(dim=1) < 0.7071 * self.PF.norm(dim=1)).any()):
            W = W - (W @ Vm.T) @ Vm
            self.second_passes += 1
        G = (W @ W.T).to(torch.float64).cpu().numpy()
        return W, G

    def ritz(self) -> tuple[np.ndarray, np.ndarray]:
        t = time.perf_counter()
        out = self._ritz()
        self.ritz_seconds += time.perf_counter() - t
        self.ritz_calls += 1
        return out

    def worth_testing(self, since: int) -> bool:
        """Whether a Rayleigh–Ritz test is due now (it must cost under a quarter of the products since the last).

        Test after every step while a Rayleigh–Ritz solve costs under a quarter of the products made since the
        last test (a late test costs at most a few products; a test per step can cost more than the product).
        """
        if self.ritz_calls == 0 or self.products == 0 or since >= max(4, self.m // 10):
            return True
        per_ritz = self.ritz_seconds / self.ritz_calls
        per_mv = self.mv_seconds / self.products
        return per_ritz <= 0.25 * per_mv * max(1, since)

    def _ritz(self) -> tuple[np.ndarray, np.ndarray]:
        m = self.m
        Mm = self.M[:m, :m]
        if m == 1:
            return Mm[0].copy(), np.ones((1, 1))
        if self.pure and self.width == 1:
            from scipy.linalg import eigh_tridiagonal

            return eigh_tridiagonal(np.diag(Mm).copy(), np.diag(Mm, 1).copy())
        if self.pure:
            from scipy.linalg import eig_banded

            band = min(m - 1, 2 * self.width)
            ab = np.zeros((band + 1, m))
            for d in range(band + 1):
                ab[band - d, d:] = np.diag(Mm, d)
            return eig_banded(ab, lower=False)
        return np.linalg.eigh((Mm + Mm.T) / 2)

    def combine(self, Y: np.ndarray, which: str = "V") -> torch.Tensor:
        """``Yᵀ V`` (or ``Yᵀ HV``) in float64, chunked over the n columns (bounded temporary memory)."""
        src = self.V if which == "V" else self.HV
        Yt = torch.from_numpy(np.ascontiguousarray(Y.T)).to(self.device)
        out = torch.empty(Y.shape[1], self.n, dtype=torch.float64, device=self.device)
        step = max(1, 2**22 // max(1, self.m))
        for s in range(0, self.n, step):
            out[:, s : s + step] = Yt @ src[: self.m, s : s + step].to(torch.float64)
        return out

    def restart(self, Y: np.ndarray) -> None:
        """Thick restart:

        the basis becomes the Ritz vectors ``Yᵀ V`` (their products ``Yᵀ HV``); the caller then adds the pending outside
        block, so the frontier's information is kept.
        """
        p = Y.shape[1]
        U = self.combine(Y, "V").to(self.dtype)
        HU = self.combine(Y, "HV").to(self.dtype) if self.keep else None
        Mp = Y.T @ self.M[: self.m, : self.m] @ Y
        self.V[:p] = U
        if self.keep:
            self.HV[:p] = HU
        self.M[:, :] = 0.0
        self.M[:p, :p] = (Mp + Mp.T) / 2
        self.m = p
        self.F = np.zeros(0, dtype=int)
        self.PF = None
        self.pure = False


def _projection64(eng: _Krylov) -> tuple[np.ndarray, np.ndarray]:
    """``(V HVᵀ, V Vᵀ)`` of the whole basis accumulated in float64 (chunks of columns), for the certification.

    A float32 basis is orthonormal only to ~1e-7, which a float32 dot product cannot even resolve; a Rayleigh–Ritz
    step that ignores it (``M y = θ y`` instead of ``M y = θ G y``) left residuals of 2e-6·θ (85k parameters) and
    1e-5·θ (670k) however long Lanczos ran. Computing both matrices once per certification costs O(n·m²) flops in
    one pass, where doing it at every step cost a float64 conversion of the basis per step (40 % of the run).
    """
    m = eng.m
    if eng.dtype == torch.float64 or not eng.keep:
        G = (eng.V[:m] @ eng.V[:m].T).to(torch.float64) if eng.dtype != torch.float64 else eng.V[:m] @ eng.V[:m].T
        return eng.M[:m, :m].copy(), G.cpu().numpy()
    M = torch.zeros(m, m, dtype=torch.float64, device=eng.device)
    G = torch.zeros(m, m, dtype=torch.float64, device=eng.device)
    step = max(1024, 2**22 // max(1, m))
    for s in range(0, eng.n, step):
        Vc = eng.V[:m, s : s + step].to(torch.float64)
        G += Vc @ Vc.T
        M += Vc @ eng.HV[:m, s : s + step].to(torch.float64).T
    return M.cpu().numpy(), G.cpu().numpy()


def _select(theta: np.ndarray, k: int, which: str) -> np.ndarray:
    order = np.argsort(-theta, kind="stable") if which == "largest" else np.argsort(theta, kind="stable")
    return order[:k]


def _kw_epsilon(n_eff: int, q: int, p: float) -> float:
    """Smallest ε with 1.648·√n·exp(−√ε(2q−1)) ≤ p (Kuczyński–Woźniakowski), capped at 1."""
    if q < 1:
        return 1.0
    root = math.log(KW_CONSTANT * math.sqrt(max(n_eff, 1)) / p) / (2 * q - 1)
    return float(min(1.0, max(0.0, root) ** 2))


def _start(n: int, b: int, seed: int, stream: int, dtype, device) -> torch.Tensor:
    g = torch.Generator().manual_seed((seed * 1_000_003 + stream) % (2**63))
    return torch.randn(b, n, dtype=torch.float64, generator=g).to(dtype=dtype, device=device)


def top_eigenpairs(
    op,
    k: int = 5,
    *,
    which: str = "largest",
    tol: float = 1e-6,
    max_dim: int | None = None,
    seed: int | None = 0,
    m0: int | None = None,
    keep_products: bool | None = None,
    block_size: int | None = None,
    check: bool = True,
    check_steps: int | None = None,
    max_hvps: int | None = None,
    failure_probability: float = 1e-3,
    memory_limit: float = 2**30,
    v0=None,
) -> EigResult:
    r"""The ``k`` largest (``which="largest"``, algebraic) or smallest eigenpairs with certificates.

    Args:
        op: a symmetric operator: :class:`~tamelab.landscape.CurvatureOperator`, anything with ``matvec``
            (and ``shape``, ``dtype``, ``device``), or a dense tensor.
        k: how many eigenpairs.
        which: ``"largest"`` or ``"smallest"`` (algebraic).
        tol: relative residual tolerance :math:`\|Hu-\theta u\|\le\mathrm{tol}\,|\theta|`, raised to the floor
            where it is below it (``tol_raised``).
        max_dim: largest basis (thick restart beyond; default ``max(300, 20k)``, capped by ``memory_limit``).
        block_size: vectors per Krylov step (products batched); the block grows when the check finds more.
            Default 1 on the CPU (a block needs more products in all, and on one CPU thread a batched product
            costs about as much as the separate ones) and 4 on CUDA (a batch of 4 costs about one product).
        check: run the deflated restart check for extremality (module docstring); ``False`` reports
            ``extremality="not checked"``.
        check_steps: Lanczos steps of each check (default ``max(10, krylov steps / 4)``).
        max_hvps: product budget (default ``2·max_dim`` + checks).
        failure_probability: ``p`` of the extremality bound.
        keep_products: store ``HV`` so residuals cost no product (default: when it fits ``memory_limit``).
        m0: basis size before the first convergence test.
        seed: seed of the random start and check vectors.
        memory_limit: bytes the stored basis (and products) may take; bounds ``max_dim``.
        v0: start vector(s) (``n`` or ``b × n``; e.g. a warm start from earlier eigenvectors) instead of random
            ones; the checks still start from fresh random vectors.

    Returns:
        :class:`EigResult`; status ``ok`` when every pair is certified and the check passed (or was
        switched off), ``not_converged`` otherwise (with the reason in ``notes``), ``uncertified`` when the
        operator is not symmetric (a dense matrix that is not is an :class:`~tamelab.errors.InputError`; for an
        operator, ``|bᵀHa − aᵀHb|`` on orthonormal a, b — b random when ``v0`` is given — is compared with the
        measured product error).
    """
    t0 = time.perf_counter()
    n = int(op.shape[0])
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise InputError("k", f"must be in [1, {n}], got {k}")
    if which not in ("largest", "smallest"):
        raise InputError("which", f"unknown {which!r}", "use largest or smallest")
    if not tol > 0:
        raise InputError("tol", f"must be > 0, got {tol}")
    if block_size is None:
        block_size = 4 if _op_dtype_device(op)[1].type == "cuda" else 1
    if not isinstance(block_size, (int, np.integer)) or block_size < 1:
        raise InputError("block_size", f"must be a positive integer, got {block_size!r}")
    if not 0 < failure_probability < 1:
        raise InputError("failure_probability", f"must be in (0, 1), got {failure_probability}")
    s = resolve_seed(seed)
    dtype, device = _op_dtype_device(op)
    if isinstance(op, torch.Tensor):
        if op.dim() != 2 or op.shape[0] != op.shape[1]:
            raise InputError("op", f"must be a square matrix, got shape {tuple(op.shape)}")
        asym, big = float((op - op.T).abs().max()), float(op.abs().max())
        if not math.isfinite(big) or asym > SYMMETRY_FACTOR * n * torch.finfo(op.dtype).eps * big:
            raise InputError(
                "op",
                f"is not symmetric (max |A − Aᵀ| = {asym:.3g}, max |A| = {big:.3g})",
                "eigenpair certificates need a symmetric matrix: pass (A + A.T) / 2",
            )
    bytes_per = torch.finfo(dtype).bits // 8 * n
    want = min(n, max(int(max_dim or max(300, 20 * k)), k + 2 * block_size + 2))
    need = min(n, k + 2 * block_size + 2)
    if keep_products is None:
        keep_products = 2 * bytes_per * want <= memory_limit or 2 * bytes_per * need * 4 <= memory_limit
    per_vec = bytes_per * (2 if keep_products else 1)
    cap = int(min(want, memory_limit // per_vec))
    if cap < need:
        raise InputError(
            "memory_limit",
            f"a basis of {need} vectors of {n} entries needs "
            f"{need * per_vec / 2**30:.2f} GiB, more than {memory_limit / 2**30:.2f} GiB",
            "raise memory_limit or lower k / block_size",
        )
    budget = int(max_hvps) if max_hvps is not None else 2 * want
    sign = 1.0 if which == "largest" else -1.0
    eng = _Krylov(op, n, dtype, device, cap, bool(keep_products))
    eng.user_start = v0 is not None
    notes: list[str] = []
    if v0 is not None:
        start = torch.as_tensor(v0).to(dtype=dtype, device=device).reshape(-1, n)
        if start.shape[1] != n or not bool(torch.isfinite(start).all()) or float(start.norm()) == 0.0:
            raise InputError("v0", f"need finite, non-zero vectors of length {n}")
    else:
        start = _start(n, min(block_size, n), s, 0, dtype, device)
    eng.add(eng.orth(start))
    noise: float | None = None
    rho = 0.0
    first_test = max(k, int(m0 or 0))
    stream, checks, check_hvps, restarts = 1, 0, 0, 0
    hist: list[float] = []
    last_test = 0  # products at the last Rayleigh–Ritz test
    spread_lo, spread_hi = np.inf, -np.inf
    status_reason = ""
    res = rad = None
    conv: list[bool] = []
    th_sel = np.zeros(0)
    extremality, ext_bound, separated = ("not checked" if not check else "not certified"), float("nan"), False
    block_r = float("nan")
    U = None
    floor = float("nan")
    tol_raised = False
    while True:
        complete = eng.m >= n
        W, G = eng.residual_block() if (eng.PF is not None and not complete) else (None, None)
        Wref = eng.PF.norm(dim=1) if W is not None else None
        test = eng.m >= min(first_test, n) and (
            complete or eng.products >= budget or eng.worth_testing((eng.products - last_test) // max(1, eng.width))
        )
        certified = False
        if test:
            last_test = eng.products
            if noise is None:
                noise, rho = _measure_noise(eng, s)
            theta, Y = eng.ritz()
            spread_lo, spread_hi = min(spread_lo, float(theta.min())), max(spread_hi, float(theta.max()))
            sel = _select(theta, k, which)
            th_sel = theta[sel]
            amax = float(np.max(np.abs(theta)))
            floors = FLOOR_NOISE_FACTOR * (noise + rho * np.abs(th_sel)) + FLOOR_EPS_FACTOR * EPS64 * amax
            floor = float(np.max(floors))
            thr = np.maximum(tol * np.abs(th_sel), floors)
            tol_raised = bool(np.any(tol * np.abs(th_sel) < floors))
            if G is not None and len(eng.F):
                yF = Y[eng.F][:, sel]
                est = np.sqrt(np.maximum(np.einsum("ik,ij,jk->k", yF, G, yF), 0.0))
            else:
                est = np.zeros(len(sel))
            if np.all(est <= thr) or eng.products >= budget or complete:
                U, th_sel, res, rad, block_r, _ = _true_residuals(eng, Y[:, sel], th_sel, noise, rho, which)
                floors = FLOOR_NOISE_FACTOR * (noise + rho * np.abs(th_sel)) + FLOOR_EPS_FACTOR * EPS64 * amax
                thr = np.maximum(tol * np.abs(th_sel), floors)
                conv = [bool(r <= t) for r, t in zip(res, thr)]
                hist.append(float(np.max(np.array(res) / thr)))
                certified = all(conv)
                if (
                    not certified
                    and len(hist) > STAGNATION_STEPS
                    and min(hist[-STAGNATION_STEPS:]) > 0.9 * hist[-STAGNATION_STEPS - 1]
                ):
                    status_reason = (
                        f"residuals stagnated at {max(res):.3e} (floor {floor:.3e}, product error "
                        f"{noise:.2e} + {rho:.2e}·|Hv|); compute in float64 for a lower floor"
                    )
                    break
        if certified:
            if complete:
                extremality = "exact"
                rest = np.delete(theta, sel)
                ext_bound = float(sign * np.max(sign * rest)) if rest.size else -sign * np.inf
                separated = bool(sign * ext_bound < sign * th_sel[-1] - block_r) if rest.size else True
                break
            if not check:
                extremality = "not checked"
                break
            steps = -(-min(eng.products, eng.cap) // max(1, eng.width))
            q = int(check_steps) if check_steps is not None else min(100, max(10, -(-steps // 4)))
            q = max(1, min(q, n - k))
            found, th_c, z, used, lo, hi = _deflated_check(eng, U.to(dtype), th_sel[-1], rad[-1], which, q, s, stream)
            stream += 1
            checks += 1
            check_hvps += used
            budget += used  # checks do not eat the Krylov budget
            spread_lo, spread_hi = min(spread_lo, lo), max(spread_hi, hi)
            if not found:
                eps_kw = _kw_epsilon(n - k, used, failure_probability)
                spread = max(spread_hi - spread_lo, 0.0)
                ext_bound = float(th_c + sign * eps_kw * spread)
                separated = bool(sign * ext_bound < sign * th_sel[-1] - block_r)
                extremality = "probabilistic"
                break
            notes.append(
                f"check {checks}: a Ritz value {th_c:.6g} beyond the {k}-th ({th_sel[-1]:.6g}) was missed by the "
                "Krylov space (repeated or hidden eigenvalue); its vector joined the basis"
            )
            one = torch.ones(1, dtype=dtype, device=device)
            zq = eng.orth(z[None])  # ⊥ the whole basis, not only U
            if zq.shape[0]:
                W, Wref = (zq, one) if W is None else (torch.cat([W, zq]), torch.cat([Wref, one]))
            # the block now carries the missed direction as well: the space stays a (block) Krylov space
        if eng.products >= budget:
            status_reason = f"product budget of {budget} exhausted"
            break
        Q = eng.orth(W, ref=Wref, passes=0) if W is not None else W
        if Q is None or Q.shape[0] == 0:
            if complete:
                status_reason = "the basis spans the whole space but the residuals are above the floor"
                break
            # invariant subspace: continue from fresh random vectors orthogonal to the basis
            Q = eng.orth(
                _start(n, max(1, eng.width), s, 10_000 + stream, dtype, device),
                ref=torch.ones(max(1, eng.width), dtype=dtype, device=device),
            )
            stream += 1
            if Q.shape[0] == 0:
                continue
            pure = False
        else:
            pure = not (certified and checks)  # an injected direction makes M dense
        if eng.m + Q.shape[0] > eng.cap:
            theta, Y = eng.ritz()
            keep_n = min(eng.cap - Q.shape[0] - 1, max(k + max(k, 8), eng.cap // 2))
            if keep_n < k:
                status_reason = "the basis is too small to restart around the wanted vectors; raise max_dim"
                break
            eng.restart(Y[:, _select(theta, keep_n, which)])
            restarts += 1
            Q = eng.orth(Q)
            pure = False
        eng.add(Q, pure=pure)
    if noise is None:
        noise, rho = _measure_noise(eng, s)
    if res is None:  # never tested (budget hit at once): report what there is
        theta, Y = eng.ritz()
        sel = _select(theta, min(k, eng.m), which)
        th_sel = theta[sel]
        U, th_sel, res, rad, block_r, _ = _true_residuals(eng, Y[:, sel], th_sel, noise, rho, which)
        conv = [False] * len(res)
    ok = all(conv) and len(conv) == k and extremality in ("exact", "probabilistic", "not checked")
    symmetric = eng.asym <= eng.asym_tol
    if not symmetric:
        notes.insert(
            0,
            f"the operator is not symmetric: |bᵀHa − aᵀHb| = {eng.asym:.3e} > {eng.asym_tol:.3e} (the "
            "product error) for orthonormal a, b; residuals certify eigenvalues only of symmetric operators",
        )
    if tol_raised:
        notes.append(
            f"tol={tol:g} is below the achievable residual {floor:.3e} (product error {noise:.2e} + "
            f"{rho:.2e}·|Hv|); "
            "certified to the floor instead (use dtype=float64 for a lower floor)"
        )
    if status_reason:
        notes.append(status_reason)
    bounds = _kato_temple(th_sel, res, eng)
    status = Status.UNCERTIFIED if not symmetric else Status.OK if ok else Status.NOT_CONVERGED
    return EigResult(
        status=status,
        seed=s,
        seconds=time.perf_counter() - t0,
        eigenvalues=[float(x) for x in th_sel],
        residuals=[float(r) for r in res],
        converged=conv,
        error_bounds=bounds,
        hvps=int(eng.products),
        krylov_dim=int(eng.m),
        which=which,
        radii=[float(r) for r in rad],
        block_radius=float(block_r),
        tol=float(tol),
        tol_raised=tol_raised,
        noise=float(noise),
        noise_relative=float(rho),
        floor=float(floor),
        extremality=extremality,
        extremality_bound=float(ext_bound),
        extremality_p=float(failure_probability) if extremality == "probabilistic" else 0.0,
        separated=separated,
        check_hvps=int(check_hvps),
        checks=checks,
        restarts=restarts,
        block_size=int(eng.width),
        product_seconds=float(eng.mv_seconds),
        notes=notes,
        eigenvectors=U.T.to(dtype) if U is not None else None,
    )


def _measure_noise(eng: _Krylov, seed: int) -> tuple[float, float]:
    """The product error model ``(δ, ρ)``:

    ‖H̃v − Hv‖ ≲ δ + ρ‖Hv‖ for unit v, from the linearity defect ‖H̃z − (H̃a + H̃b)/√2‖/√2 with z = (a + b)/√2 for two
    orthonormal basis vectors (one extra product with stored products) and, for an operator with a float64 twin
    (``astype``), the error of one product against it.
    """
    eng.asym, eng.asym_tol = 0.0, 0.0
    if eng.n < 2:
        return 0.0, 0.0

    def prod(i):
        if eng.keep:
            return eng.HV[i]
        hit = np.nonzero(eng.F == i)[0]
        return eng.PF[int(hit[0])] if hit.size else eng.mv(eng.V[i][None])[0]

    a, pa = eng.V[0], prod(0)
    if eng.m >= 2 and not eng.user_start:
        b, pb = eng.V[1], prod(1)
    else:  # a random b: also the symmetry probe below, which a caller's start vector could otherwise defeat
        r = _start(eng.n, 1, seed, 99_999, eng.dtype, eng.device)[0]
        for _ in range(2):
            r = r - (r @ a) * a
        b = r / r.norm()
        pb = eng.mv(b[None])[0]
    z = (a + b) / math.sqrt(2.0)
    pz = eng.mv(z[None])[0].to(torch.float64)
    d = pz - (pa.to(torch.float64) + pb.to(torch.float64)) / math.sqrt(2.0)
    delta = float(d.norm()) / math.sqrt(2.0)
    rho = delta / max(float(pz.norm()), torch.finfo(torch.float64).tiny)
    # the premise of every radius: H symmetric, so bᵀ(Ha) = aᵀ(Hb) up to the product error
    pa64, pb64 = pa.to(torch.float64), pb.to(torch.float64)
    eng.asym = abs(float(b.to(torch.float64) @ pa64 - a.to(torch.float64) @ pb64))
    scale = float(pa64.norm() + pb64.norm())
    # rounding that is linear in v (a float32 forward state, for instance) makes no linearity defect: compare one
    # product with the float64 twin of the operator when it has one (and it fits in memory)
    twin = getattr(eng.op, "astype", None)
    if twin is not None and eng.dtype != torch.float64 and _data_bytes(eng.op) <= TWIN_DATA_BYTES:
        try:
            op64 = twin(torch.float64)
            exact = op64.matmat_rows(z[None].to(torch.float64))[0]
            eng.products += 1
            err = float((pz - exact).norm())
            delta = max(delta, err)
            rho = max(rho, err / max(float(exact.norm()), torch.finfo(torch.float64).tiny))
        except (RuntimeError, MemoryError):  # no room for the twin: the linearity defect alone
            pass
    eng.asym_tol = 2 * ERROR_SAFETY * (delta + rho * scale) + FLOOR_EPS_FACTOR * EPS64 * scale
    return delta, rho


def _data_bytes(op) -> int:
    return sum(X.element_size() * X.numel() for X, _ in getattr(op, "batches", []))


def _true_residuals(eng: _Krylov, Ysel: np.ndarray, th: np.ndarray, noise: float, rho: float, which: str = "largest"):
    """Refined Ritz pairs and their certificates: ``(U rows float64, θ, residual norms, radii, block radius, η)``.

    The Ritz vectors ``U = Yᵀ V`` and their products ``HU = Yᵀ HV`` are formed in float64; a k×k Rayleigh–Ritz
    step on span(U) with its Gram matrix (``eigh(U HUᵀ, U Uᵀ)``) then removes the effect of the basis' float32
    orthonormality defect, which otherwise put a floor of about θ·‖VVᵀ − I‖ (≈ 3e-6·θ on an 85k-parameter
    Hessian) under the residuals. η = ‖UUᵀ − I‖₂ of the final vectors.
    """
    from scipy.linalg import eigh

    k = len(th)
    m = eng.m
    if m > 1 and eng.dtype != torch.float64:
        # Rayleigh–Ritz with the basis' Gram matrix, M y = θ G y, both in float64 (see _projection64)
        M64, Gm = _projection64(eng)
        try:
            w, Yg = eigh((M64 + M64.T) / 2, (Gm + Gm.T) / 2)
            sel = _select(w, k, which)
            Ysel, th = Yg[:, sel], w[sel]
        except np.linalg.LinAlgError:
            pass
    if eng.keep:
        U = eng.combine(Ysel, "V")
        HU = eng.combine(Ysel, "HV")
    else:
        U = eng.combine(Ysel, "V").to(eng.dtype).to(torch.float64)  # the vectors whose products are taken
        HU = eng.mv(U.to(eng.dtype)).to(torch.float64)
    if k:
        G = (U @ U.T).cpu().numpy()
        A = (U @ HU.T).cpu().numpy()
        try:
            w, Z = eigh((A + A.T) / 2, (G + G.T) / 2)
            order = np.argsort(-w) if which == "largest" else np.argsort(w)
            w, Z = w[order], Z[:, order]
            Zt = torch.from_numpy(np.ascontiguousarray(Z.T)).to(U.device)
            U, HU, th = Zt @ U, Zt @ HU, w
        except np.linalg.LinAlgError:  # a numerically rank-deficient U (a spurious copy): keep the plain pairs
            pass
    thv = torch.as_tensor(th, dtype=torch.float64, device=eng.device)
    R = HU - thv[:, None] * U
    res = R.norm(dim=1).cpu().numpy()
    gram = (U @ U.T).cpu().numpy()
    eta = float(np.linalg.norm(gram - np.eye(k), 2)) if k else 0.0
    rr = (R @ R.T).cpu().numpy()
    normR = float(math.sqrt(max(np.linalg.eigvalsh((rr + rr.T) / 2).max(), 0.0))) if k else 0.0
    amax = float(np.max(np.abs(th))) if k else 0.0
    err = ERROR_SAFETY * (noise + rho * np.abs(th))  # the products' own error at these vectors (model, ×2)
    rad = res + err + 2 * eta * np.abs(th)
    block = normR + ERROR_SAFETY * (noise + rho * amax) * math.sqrt(k) + 2 * eta * amax
    return U, np.asarray(th, dtype=float), res.tolist(), rad.tolist(), block, eta


def _deflated_check(
    eng: _Krylov, U: torch.Tensor, th_k: float, rad_k: float, which: str, q: int, seed: int, stream: int
):
    """Lanczos (full re-orthogonalisation) on P H P, P = I − UᵀU, from a Gaussian start in U^⊥, for up to q steps.

    Returns ``(found, θ_c, z, products, min Ritz, max Ritz)``: ``found`` when a Ritz value lies beyond
    θ_k ± its radius (``z`` its vector, in U^⊥), else θ_c is the extreme Ritz value after the steps run.
    """
    sign = 1.0 if which == "largest" else -1.0
    c = _start(eng.n, 1, seed, stream, eng.dtype, eng.device)[0]
    for _ in range(2):
        c = c - (U @ c) @ U
    c = c / c.norm()
    Cbuf = torch.empty(q, eng.n, dtype=eng.dtype, device=eng.device)
    T = np.zeros((q, q))
    used = 0
    th_c, lo, hi = -sign * np.inf, np.inf, -np.inf
    y = None
    for j in range(q):
        Cbuf[j] = c
        p = eng.mv(c[None])[0]
        used += 1
        Cm = Cbuf[: j + 1]
        T[: j + 1, j] = (Cm @ p).to(torch.float64).cpu().numpy()
        T[j, : j + 1] = T[: j + 1, j]
        if j == 0:
            th, Yc = T[:1, 0].copy(), np.ones((1, 1))
        else:  # plain Lanczos: T is tridiagonal up to rounding
            from scipy.linalg import eigh_tridiagonal

            th, Yc = eigh_tridiagonal(np.diag(T[: j + 1, : j + 1]).copy(), np.diag(T[: j + 1, : j + 1], 1).copy())
        lo, hi = min(lo, float(th[0])), max(hi, float(th[-1]))
        i = int(np.argmax(sign * th))
        th_c, y = float(th[i]), Yc[:, i]
        if sign * th_c > sign * th_k + rad_k:
            z = torch.from_numpy(y).to(eng.dtype).to(eng.device) @ Cm
            return True, th_c, z / z.norm(), used, lo, hi
        w = p
        for _ in range(2):
            w = w - (U @ w) @ U
            w = w - (Cm @ w) @ Cm
        nw = float(w.norm())
        if nw <= 10 * eng.eps * float(p.norm()) or not np.isfinite(nw):
            break  # an invariant subspace of PHP: no further information from this start
        c = w / nw
    return False, th_c, None, used, lo, hi


def _kato_temple(th: np.ndarray, res, eng: _Krylov) -> list[float]:
    """min(r, r²/gap) with the gap to the other wanted Ritz values (an estimate, see EigResult)."""
    out = []
    for i in range(len(th)):
        others = [abs(th[i] - th[j]) - res[j] for j in range(len(th)) if j != i]
        gap = min(others) if others else np.inf
        out.append(float(min(res[i], res[i] ** 2 / gap)) if gap > res[i] else float(res[i]))
    return out
