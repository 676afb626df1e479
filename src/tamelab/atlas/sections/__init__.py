"""Atlas sections, one module per capability; discovered automatically."""
