"""tamelab.exact (see docs/)."""
