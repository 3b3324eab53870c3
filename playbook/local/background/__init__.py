"""The local platform as a background process: the daemon (``python -m playbook.local.background.daemon``)
and the functions that start, stop and inspect it."""
