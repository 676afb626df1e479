"""tamelab.testing (see docs/)."""
