"""The test workers' imports that every worker repeats, for the local platform's fork server
(playbook/local/supervision/forking.py): the runpod SDK's own dependencies, which read no environment when
imported. Not the SDK itself: each worker imports it, and reads its RUNPOD_* variables, after the fork. The fork
server also reads the CPU's description once (the SDK asks py-cpuinfo for it at import). A worker started cold
(PLAYBOOK_WORKER_FORK=0, macOS, another import-time setting) imports all of it itself."""

import aiohttp  # noqa: F401
import aiohttp_retry  # noqa: F401
import backoff  # noqa: F401
import paramiko  # noqa: F401
import requests  # noqa: F401
import yaml  # noqa: F401
