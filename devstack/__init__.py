"""The real local stack for development and tests: Kafka, tritonserver, Prometheus."""
