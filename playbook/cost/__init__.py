"""07, cost: traces, the autoscaler simulator, the settings sweep and the replay on a real endpoint."""
