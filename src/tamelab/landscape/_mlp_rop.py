r"""Hessian-vector products of ReLU MLP losses by Pearlmutter's R-operator, written out by hand.

For an ``nn.Sequential`` of ``Linear`` layers with ``ReLU`` between them,
:math:`z_l=a_{l-1}W_l^\top+b_l`, :math:`a_l=m_l\odot z_l` with the mask :math:`m_l=[z_l>0]`
(the AD convention ReLU'(0)=0), :math:`a_0=X`, and a mean loss :math:`L=\ell(z_L)`, the gradient is
:math:`\delta_L=\nabla\ell(z_L)`, :math:`\delta_{l-1}=m_{l-1}\odot(\delta_lW_l)`,
:math:`\nabla_{W_l}L=\delta_l^\top a_{l-1}`. Applying the directional derivative
:math:`\mathcal R\{\cdot\}=\frac{d}{dt}(\cdot)(\theta+tv)|_{t=0}` (Pearlmutter, *Fast exact multiplication
by the Hessian*, Neural Computation 6, 1994) with :math:`v=(V_l,c_l)` and masks constant (a.e.):

.. math::
    \mathcal Rz_l &= a_{l-1}V_l^\top+c_l+\mathcal Ra_{l-1}W_l^\top,\quad \mathcal Ra_l=m_l\odot\mathcal Rz_l,\\
    \mathcal R\delta_L &= \nabla^2\ell(z_L)\,\mathcal Rz_L,\quad
    \mathcal R\delta_{l-1}=m_{l-1}\odot(\mathcal R\delta_lW_l+\delta_lV_l),\\
    (Hv)_{W_l} &= \mathcal R\delta_l^\top a_{l-1}+\delta_l^\top\mathcal Ra_{l-1},\quad
    (Hv)_{b_l}=\textstyle\sum_n\mathcal R\delta_l .

This is the same set of matrix products as reverse-over-reverse autograd (about 14 for three layers)
without the autograd engine's zero-filling, accumulation and log-softmax double-backward; it is used
by :class:`~tamelab.landscape.CurvatureOperator` only when the model and loss match exactly (plain
``Linear``/``ReLU`` modules, every parameter selected, mean cross-entropy with class indices or mean
squared error) and is tested against autograd and the dense Hessian.
"""

from __future__ import annotations

import torch
from torch import nn

from ..models import linear_relu_modules

__all__ = ["MlpHvp", "mlp_rop_plan"]


def _loss_kind(loss_fn) -> str | None:
    from ..losses import Loss

    if isinstance(loss_fn, Loss):
        return _loss_kind(loss_fn.torch_fn if loss_fn.builtin else loss_fn.fn)
    if type(loss_fn) is nn.CrossEntropyLoss:
        ok = loss_fn.weight is None and loss_fn.reduction == "mean" and loss_fn.label_smoothing == 0.0
        return "ce" if ok else None
    if type(loss_fn) is nn.MSELoss:
        return "mse" if loss_fn.reduction == "mean" else None
    if loss_fn is nn.functional.cross_entropy:
        return "ce"
    if loss_fn is nn.functional.mse_loss:
        return "mse"
    return None


def mlp_rop_plan(model: nn.Module, loss_fn, names: list[str]) -> tuple[list[nn.Linear], str] | None:
    """The Linear layers and loss kind when the hand-written R-operator applies, else ``None``."""
    kind = _loss_kind(loss_fn)
    mods = linear_relu_modules(model)
    if kind is None or mods is None:
        return None
    # the formulas need Linear, ReLU, Linear, ReLU, ..., Linear exactly
    if any(type(m) is not nn.Linear for m in mods[0::2]) or any(type(m) is not nn.ReLU for m in mods[1::2]):
        return None
    linears: list[nn.Linear] = mods[0::2]
    if names != [k for k, _ in model.named_parameters()] or any(not p.requires_grad for p in model.parameters()):
        return None
    if len({id(p) for p in model.parameters()}) != len(names):
        return None
    return linears, kind


class MlpHvp:
    """Cached forward/backward state of one batch; ``__call__(vs)`` returns the per-parameter Hv."""

    def __init__(self, linears: list[nn.Linear], kind: str, X: torch.Tensor, T: torch.Tensor) -> None:
        if kind == "ce" and (T.dim() != 1 or T.is_floating_point() or bool((T < 0).any())):
            raise ValueError("cross-entropy fast path needs class-index targets")
        self.kind = kind
        self.W = [lin.weight.detach() for lin in linears]
        self.has_b = [lin.bias is not None for lin in linears]
        with torch.no_grad():
            a = [X]
            masks = []
            z = X
            for i, lin in enumerate(linears):
                z = nn.functional.linear(a[-1], self.W[i], lin.bias.detach() if lin.bias is not None else None)
                if i < len(linears) - 1:
                    m = z > 0
                    masks.append(m)
                    a.append(z * m)
            N = z.shape[0]
            if kind == "ce":
                p = torch.softmax(z, dim=1)
                g = p.clone()
                g[torch.arange(N), T] -= 1.0
                g /= N
                self.p, self.scale = p, 1.0 / N
            else:
                if T.shape != z.shape:
                    raise ValueError("MSE fast path needs targets shaped like the outputs")
                self.scale = 2.0 / z.numel()
                g = (z - T.to(z.dtype)) * self.scale
            deltas = [g]
            for i in range(len(linears) - 1, 0, -1):
                deltas.insert(0, (deltas[0] @ self.W[i]) * masks[i - 1])
        self.a, self.masks, self.deltas = a, masks, deltas

    def _split(self, vs: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
        """Direction blocks (weight, [bias] per layer, ``named_parameters`` order) → weights and biases per layer."""
        V: list[torch.Tensor] = []
        c: list[torch.Tensor | None] = []
        i = 0
        for li in range(len(self.W)):
            V.append(vs[i])
            i += 1
            c.append(vs[i] if self.has_b[li] else None)
            i += int(self.has_b[li])
        return V, c

    def rows(self, Q: torch.Tensor, unflatten) -> torch.Tensor:
        """``(H qᵢ)ᵢ`` for a ``b × n`` block of flat directions (``unflatten`` splits them per parameter)."""
        if Q.shape[0] == 1:
            return torch.cat([h.reshape(-1) for h in self([t[0] for t in unflatten(Q).values()])])[None]
        out = self.batched(list(unflatten(Q).values()))
        return torch.cat([h.reshape(Q.shape[0], -1) for h in out], 1)

    def batched(self, vs: list[torch.Tensor]) -> list[torch.Tensor]:
        """The products for ``b`` directions at once:

        every block of ``vs`` has a leading dimension ``b`` (the same formulas as :meth:`__call__` with batched matrix
        products).
        """
        L = len(self.W)
        V, c = self._split(vs)
        with torch.no_grad():
            Ra = [None]
            Rz = None
            for li in range(L):
                Rz = torch.matmul(self.a[li], V[li].transpose(1, 2))  # (b, N, out)
                if c[li] is not None:
                    Rz += c[li][:, None, :]
                if Ra[li] is not None:
                    Rz += torch.matmul(Ra[li], self.W[li].T)
                if li < L - 1:
                    Ra.append(Rz.mul_(self.masks[li]))
            if self.kind == "ce":
                pr = self.p * Rz
                Rd = (pr - self.p * pr.sum(-1, keepdim=True)).mul_(self.scale)
            else:
                Rd = Rz.mul_(self.scale)
            out: list[torch.Tensor] = []
            for li in range(L - 1, -1, -1):
                gW = torch.matmul(Rd.transpose(1, 2), self.a[li])
                if Ra[li] is not None:
                    gW += torch.matmul(self.deltas[li].T, Ra[li])
                blk = [gW]
                if self.has_b[li]:
                    blk.append(Rd.sum(1))
                out[:0] = blk
                if li > 0:
                    Rd = (torch.matmul(self.deltas[li], V[li]) + torch.matmul(Rd, self.W[li])).mul_(self.masks[li - 1])
        return out

    def __call__(self, vs: list[torch.Tensor]) -> list[torch.Tensor]:
        """``vs``: direction blocks in ``named_parameters`` order (weight, [bias]) per layer."""
        L = len(self.W)
        V, c = self._split(vs)
        with torch.no_grad():
            Ra = [None]
            Rz = None
            for li in range(L):
                Rz = self.a[li] @ V[li].T
                if c[li] is not None:
                    Rz += c[li]
                if Ra[li] is not None:
                    Rz.addmm_(Ra[li], self.W[li].T)
                if li < L - 1:
                    Ra.append(Rz.mul_(self.masks[li]))
            if self.kind == "ce":
                pr = self.p * Rz
                Rd = (pr - self.p * pr.sum(1, keepdim=True)).mul_(self.scale)
            else:
                Rd = Rz.mul_(self.scale)
            out: list[torch.Tensor] = []
            for li in range(L - 1, -1, -1):
                gW = Rd.T @ self.a[li]
                if Ra[li] is not None:
                    gW.addmm_(self.deltas[li].T, Ra[li])
                blk = [gW]
                if self.has_b[li]:
                    blk.append(Rd.sum(0))
                out[:0] = blk
                if li > 0:
                    Rd = torch.addmm(self.deltas[li] @ V[li], Rd, self.W[li]).mul_(self.masks[li - 1])
        return out


def mlp_ggn_diagonal(linears: list[nn.Linear], kind: str, X: torch.Tensor, T: torch.Tensor) -> list[torch.Tensor]:
    r"""Exact GGN diagonal of a ReLU MLP loss, per parameter block (``named_parameters`` order).

    With the output-Hessian factor :math:`\nabla^2\ell(z_n)=\sum_c s_{n,c}s_{n,c}^\top`
    (cross-entropy: :math:`s_{n,c}=\sqrt{p_{n,c}}(e_c-p_n)/\sqrt N`; MSE: :math:`\sqrt{2/(NC)}\,e_c`), every
    factor column is back-propagated at once, :math:`B_{l-1}=(B_lW_l)\odot m_{l-1}`, and
    :math:`\mathrm{diag}\,G_{W_l}=\big(\sum_cB_{l,c}^{\odot2}\big)^\top a_{l-1}^{\odot2}`,
    :math:`\mathrm{diag}\,G_{b_l}=\sum_{n,c}B_{l,c}^{\odot2}` — C batched backward passes, no per-sample loop
    (Dangel et al.'s BackPACK *DiagGGN-exact*, arXiv:1912.10985, written out for this architecture).
    """
    W = [lin.weight.detach() for lin in linears]
    with torch.no_grad():
        a, masks = [X], []
        z = X
        for i, lin in enumerate(linears):
            z = nn.functional.linear(a[-1], W[i], lin.bias.detach() if lin.bias is not None else None)
            if i < len(linears) - 1:
                m = z > 0
                masks.append(m)
                a.append(z * m)
        N, C = z.shape
        if kind == "ce":
            p = torch.softmax(z, dim=1)
            eye = torch.eye(C, dtype=z.dtype)
            # (C, N, C): [c, n, :] = s_{n,c}
            B = (p.sqrt().T[:, :, None] * (eye[:, None, :] - p[None, :, :])) / N**0.5
        else:
            B = torch.eye(C, dtype=z.dtype)[:, None, :].expand(C, N, C) * (2.0 / (N * C)) ** 0.5
        out: list[torch.Tensor] = []
        for li in range(len(linears) - 1, -1, -1):
            B2 = (B * B).sum(0)
            blk = [B2.T @ (a[li] * a[li])]
            if linears[li].bias is not None:
                blk.append(B2.sum(0))
            out[:0] = blk
            if li > 0:
                B = (B @ W[li]) * masks[li - 1]
    return out
