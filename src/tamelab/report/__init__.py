"""tamelab.report (see docs/)."""
