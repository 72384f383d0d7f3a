"""The evaluation suite: the hand-written question set (dataset), the metrics, and the runner
that answers every question with a configuration and writes a report."""
