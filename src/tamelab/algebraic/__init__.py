"""tamelab.algebraic (see docs/)."""
