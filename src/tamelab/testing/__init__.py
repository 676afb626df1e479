"""Shipped reference implementations used by the tests (dense Hessian, dense GGN)."""

from .reference import dense_ggn as dense_ggn
from .reference import dense_hessian as dense_hessian

__all__ = ["dense_hessian", "dense_ggn"]
