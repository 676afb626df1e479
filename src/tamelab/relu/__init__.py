"""tamelab.relu (see docs/)."""
