"""tamelab.bounds (see docs/)."""
