"""The core every layer uses: configuration and targets, settings (every PLAYBOOK_* variable), errors, secrets,
excerpts of untrusted text, HTML helpers and waiting."""
