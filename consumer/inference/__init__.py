"""Inference: cross-video micro-batching, the Triton client edge, retries and the breaker."""
