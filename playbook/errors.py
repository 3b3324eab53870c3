"""The playbook's errors. Each message says what went wrong and what to do next; the CLI prints it
without a traceback."""


class PlaybookError(Exception):
    """Base of every error the playbook raises on purpose."""


class ConfigError(PlaybookError):
    """A setting, spec field or parameter is missing or invalid."""


class PlatformError(PlaybookError):
    """The target platform (local or RunPod) refused or failed a request."""


class BuildError(PlaybookError):
    """An image could not be built, checked or pushed."""


class JobError(PlaybookError):
    """A job failed, timed out or was cancelled."""
