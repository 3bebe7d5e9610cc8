"""The spine: poll loop, offset watermarks, backpressure, rebalance and shutdown."""
