"""tamelab.train (see docs/)."""
