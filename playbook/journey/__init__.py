"""The journey across the notebooks: its shared spec and state, the papermill runner and its output checks,
the worker's contract, the RunPod Hub files, and the image trial on the local platform."""
