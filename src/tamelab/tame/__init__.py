"""tamelab.tame (see docs/)."""

__all__: list[str] = []
