"""02, storage: the network volume filled through RunPod's S3 API, and verified."""
