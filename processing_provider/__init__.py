"""Processing adapters: parameters in, one core call, outputs out."""
