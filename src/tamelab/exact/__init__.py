"""tamelab.exact (see docs/)."""

__all__: list[str] = []
