"""The runtime of the local platform: endpoints, jobs and workers (state), the rules jobs move by
(engine) and when workers start and stop (scaler). No HTTP here."""
