"""Reports which keys of the job the runpod SDK handed to the handler (and the s3Config bucket, not its secrets):
RunPod passes a job's s3Config "directly to your worker"."""

import runpod


def handler(job):
    s3 = job.get("s3Config") or {}
    return {"keys": sorted(job), "bucket": s3.get("bucketName"), "has_secret": bool(s3.get("accessSecret"))}


if __name__ == "__main__":
    runpod.serverless.start({"handler": handler})
