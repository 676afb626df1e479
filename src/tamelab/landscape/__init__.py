"""tamelab.landscape (see docs/)."""
