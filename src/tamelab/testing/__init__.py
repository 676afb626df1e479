"""Shipped reference implementations used by the tests (dense Hessian, dense GGN, symmetry check).

Shipped reference implementations used by the tests (dense Hessian by three independent methods,
dense GGN, symmetry check); none uses ``torch.func.hessian`` (wrong on affine LayerNorm in torch 2.13).
:mod:`tamelab.testing.counterexamples` holds the modules that once fooled the tameness certificate (the wrong
answers its tests and ``benchmarks/audit_certificates.py`` feed it).
"""

from .reference import HESSIAN_METHODS as HESSIAN_METHODS
from .reference import MatrixOperator as MatrixOperator
from .reference import check_symmetric as check_symmetric
from .reference import dense_ggn as dense_ggn
from .reference import dense_hessian as dense_hessian

__all__ = ["HESSIAN_METHODS", "MatrixOperator", "check_symmetric", "dense_ggn", "dense_hessian"]
