"""03, the handler: the worker's handler run in this process, to preview it before any image exists."""
