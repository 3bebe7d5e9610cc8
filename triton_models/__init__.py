"""The Triton model repository of the consumer and the tooling that builds it."""
