"""The model is not where the worker looks (MODEL_PATH on the volume), or is only partly there: the
worker's fitness check names each missing, empty or truncated file; these lines are the evidence."""

from __future__ import annotations

import difflib
import re

from playbook.doctor.observe import Observation

HEAD = re.compile(r"model at MODEL_PATH=(\S+) is not usable|could not load the pipeline at MODEL_PATH=(\S+?)[: ]|"
                  r"model folder (\S+) does not exist|No such file or directory: '(/runpod-volume[^']*)'")
PROBLEM = re.compile(r"\bis missing\b|is truncated|does not exist|/ is empty|no weights file|is corrupt|"
                     r"not readable|the manifest says|did not finish|not a diffusers pipeline folder|no file named|"
                     r"no such modeling files")
WORKER_VARS = ("MODEL_PATH", "WORKER_DEVICE", "WORKER_DTYPE", "WORKER_WARMUP", "WORKER_PREFETCH")
MAX_FILES = 4


def check(obs: Observation) -> list[str] | None:
    heads = obs.find(HEAD)
    if not heads:
        return None
    text, line = heads[-1]
    path = next(g for g in HEAD.search(text).groups() if g)
    out = [obs.quote(line, text.splitlines()[0] if text.strip() else text)]
    problems = _problems(obs, text)
    out += [f"  {obs.as_worker_sees(p)}" for p in problems[:MAX_FILES]]
    if len(problems) > MAX_FILES:
        out.append(f"  and {len(problems) - MAX_FILES} more")
    env = obs.endpoint.get("env") or {}
    out.append(f"MODEL_PATH the worker used: {obs.as_worker_sees(path)} (the endpoint's env "
               f"{'sets ' + repr(env['MODEL_PATH']) if 'MODEL_PATH' in env else 'does not set it: the default'}), "
               f"network volume {', '.join(obs.endpoint.get('networkVolumes') or []) or 'none attached'}")
    out += _typos(env)
    return out


def _problems(obs: Observation, head_text: str) -> list[str]:
    """Each file problem: from a multi-line error text, else from the log lines that list them."""
    lines = [x.strip(" -") for x in head_text.splitlines()[1:] if PROBLEM.search(x)]
    if not lines:
        lines = [t.strip(" -") for t, _ in obs.texts() if PROBLEM.search(t) and not HEAD.search(t)]
    return list(dict.fromkeys(lines))


def _typos(env: dict) -> list[str]:
    """An env key one typo away from a variable the worker reads (MODLE_PATH for MODEL_PATH)."""
    out = []
    for key in env:
        close = difflib.get_close_matches(key, WORKER_VARS, n=1, cutoff=0.8)
        if close and close[0] != key and close[0] not in env:
            out.append(f"the endpoint's env sets {key}={env[key]!r}, which the worker does not read: did you mean "
                       f"{close[0]}?")
    return out
