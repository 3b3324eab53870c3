"""06, test and monitor: job times and timelines, cold-start phases, worker logs and a live widget."""
