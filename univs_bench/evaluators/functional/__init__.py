"""Pure numpy per-video kernels: (gt, pred) arrays in, small statistics out."""
