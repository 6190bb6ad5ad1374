"""privaudit: privacy audit for split deep-learning models (kept free of torch imports)."""

__version__ = "0.1.0"
