"""Worker supervision: how a worker runs (a Python process or a container of the built image) and the
launcher that ties a worker's life to the platform's."""
