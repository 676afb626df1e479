"""tamelab.tame (see docs/)."""
