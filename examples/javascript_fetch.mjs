// Generate images on a runpod-playbook endpoint with JavaScript's fetch (Node 18 or newer, no packages).
//
// Why /runsync then /status: /runsync holds the request until the job ends or `wait` ms pass (1000 to
// 300000); a cold worker can take longer, and then the job comes back IN_QUEUE or IN_PROGRESS with its id,
// so we ask /status with a growing pause (0.2 s doubling to 5 s) rather than a fixed sleep.
//
// Usage:
//   export RUNPOD_API_KEY=... RUNPOD_ENDPOINT_ID=...     # on RunPod
//   eval "$(playbook local env)"                         # or the local platform
//   node examples/javascript_fetch.mjs [job.json]        // a job body {"input": {...}}; default: a lighthouse
// Environment: RUNPOD_ENDPOINT_BASE_URL (default https://api.runpod.ai/v2), OUT_DIR (default outputs),
// TIMEOUT_S (default 600), WAIT_MS (how long /runsync holds, default 90000). Request format: worker/README.md.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

const TERMINAL = new Set(["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"]);
const DEFAULT_JOB = { input: { prompt: "a lighthouse on a cliff at dusk, oil painting", width: 512, height: 512 } };

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(1);
}

async function waitForJob(base, headers, body, timeoutS) {
  const deadline = Date.now() + timeoutS * 1000;
  const reply = await fetch(`${base}/runsync?wait=${process.env.WAIT_MS || 90000}`, { method: "POST", headers, body: JSON.stringify(body) });
  let job = await reply.json().catch(() => ({}));
  if (!job.status) fail(`the endpoint answered HTTP ${reply.status}: ${JSON.stringify(job).slice(0, 300)}`);
  let pause = 200;
  while (!TERMINAL.has(job.status)) {
    if (Date.now() > deadline) fail(`job ${job.id} still ${job.status} after ${timeoutS} s; its status: ${base}/status/${job.id}`);
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(pause * 2, 5000);
    job = await (await fetch(`${base}/status/${job.id}`, { headers })).json();
  }
  return job;
}

async function saveImages(job, outDir) {
  await mkdir(outDir, { recursive: true });
  const { images, output_format: format = "png" } = job.output;
  for (const [i, image] of images.entries()) {
    const path = join(outDir, `${job.id}-${i}.${format}`);
    const data = image.url
      ? Buffer.from(await (await fetch(image.url)).arrayBuffer()) // a bucket was configured: URLs
      : Buffer.from(image.image, "base64");
    await writeFile(path, data);
    console.log(`saved ${path} (seed ${image.seed})`);
  }
}

const key = process.env.RUNPOD_API_KEY;
const endpointId = process.env.RUNPOD_ENDPOINT_ID;
if (!key || !endpointId) fail('set RUNPOD_API_KEY and RUNPOD_ENDPOINT_ID (or run: eval "$(playbook local env)")');
const base = `${(process.env.RUNPOD_ENDPOINT_BASE_URL || "https://api.runpod.ai/v2").replace(/\/$/, "")}/${endpointId}`;
const body = process.argv[2] ? JSON.parse(await readFile(process.argv[2], "utf8")) : DEFAULT_JOB;
const headers = { authorization: key, "content-type": "application/json" };
const job = await waitForJob(base, headers, body, Number(process.env.TIMEOUT_S || 600));
if (job.status !== "COMPLETED") fail(`job ${job.id} ${job.status}: ${String(job.error ?? "no error given").slice(0, 500)}`);
await saveImages(job, process.env.OUT_DIR || "outputs");
