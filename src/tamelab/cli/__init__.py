"""The tamelab command-line interface."""
