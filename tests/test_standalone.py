"""The repository stands alone: a clone with nothing beside it has everything its code, tests and notebooks read
(RunPod's OpenAPI specs in docs/runpod/, the facts in docs/), and every `§` citation names a file and a section
that exist in it. .ci/run proves the first half on a real lone clone (it collects the suite there); these checks
catch a new reference to a path outside the repository before that."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

from playbook.core.config import REPO_ROOT

SIBLING = re.compile(r"\.\./" + "shared|PLAYBOOK_" + "SHARED_DIR|shared/" + "runpod/|/work/" + r"(shared|main|wt)\b")
UP = re.compile(r"(?<![\w./])((?:\.\./)+)")  # a relative path climbing out of its file's folder
FILE_UP = re.compile(r"__file__\)(?:\.resolve\(\))?((?:\.parent)+)(?!s)|__file__\)(?:\.resolve\(\))?\.parents\[(\d+)\]")
CITATION = re.compile(r"([\w./-]+\.md) §(\d+(?:\.\d+)*)")
SECTION = re.compile(r"§(\d+(?:\.\d+)*)")


def tracked() -> dict[str, str]:
    """Every tracked text file (path relative to the repository -> text); a folder without git: every file."""
    try:
        names = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, text=True,
                               check=True).stdout.split("\0")
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "build", "__pycache__", ".pytest_cache"}
        names = [p.relative_to(REPO_ROOT).as_posix() for p in REPO_ROOT.rglob("*")
                 if p.is_file() and not skip & set(p.relative_to(REPO_ROOT).parts)]
    texts = {}
    for name in filter(None, names):
        try:
            texts[name] = (REPO_ROOT / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
    return texts


def ours(texts: dict[str, str]) -> dict[str, str]:
    """Without RunPod's OpenAPI files (docs/runpod/*.json, RunPod's bytes, not ours to edit)."""
    return {name: text for name, text in texts.items() if not (name.startswith("docs/runpod/") and
                                                                name.endswith(".json"))}


def test_nothing_refers_to_a_folder_beside_the_repository():
    texts = ours(tracked())
    assert "docs/runpod/rest-v2-beta.openapi.json" in tracked(), "RunPod's spec belongs in the repository"
    found = [f"{name}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}" for name, text in texts.items()
             for m in SIBLING.finditer(text)]
    for name, text in texts.items():
        depth = name.count("/")  # how many folders the file is below the repository's root
        for m in UP.finditer(text):
            if m.group(1).count("../") > depth:
                found.append(f"{name}: {text[m.start():m.start() + 40]!r} climbs out of the repository")
        if name.endswith(".py"):
            for m in FILE_UP.finditer(text):
                levels = len(m.group(1)) // len(".parent") - 1 if m.group(1) else int(m.group(2))
                if levels > depth:
                    found.append(f"{name}: {m.group(0)} is above the repository")
    assert found == []


def headings(path: Path) -> set[str]:
    return {m.group(1) for m in re.finditer(r"^#+ (\d+(?:\.\d+)*)[. ]", path.read_text(), re.M)}


def test_every_section_citation_names_a_file_and_section_of_the_repository():
    bad = []
    for name, text in ours(tracked()).items():
        cited = {m.start(2) - 1: m for m in CITATION.finditer(text)}  # position of each cited `§`
        for m in SECTION.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            if m.start() in cited:
                file = cited[m.start()].group(1)
                path = next((p for p in (REPO_ROOT / file, (REPO_ROOT / name).parent / file) if p.is_file()), None)
            elif name.endswith(".md"):  # a bare § in a markdown file: a section of that file
                file, path = name, REPO_ROOT / name
            else:
                bad.append(f"{name}:{line}: {m.group(0)} names no file (write e.g. docs/runpod-facts.md {m.group(0)})")
                continue
            if path is None:
                bad.append(f"{name}:{line}: {file} is not in the repository")
            elif m.group(1) not in headings(path):
                bad.append(f"{name}:{line}: {file} has no section {m.group(1)}")
        bad += [f"{name}: cites the old design notes, which are not in the repository: cite docs/*.md"
                for _ in re.finditer(r"\bDESIGN\b", text)]
    assert bad == []


def test_the_facts_pages_link_only_to_files_that_exist():
    """Links, and the repository files the pages name in backticks (a module that moved is named at its new place)."""
    named = re.compile(r"`((?:playbook|tests|scripts|worker|benchmarks|notebooks|deploy|examples|docs)/[\w./-]+)`")
    missing = []
    for page in [*REPO_ROOT.joinpath("docs").rglob("*.md"), REPO_ROOT / "README.md"]:
        text = page.read_text()
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if "://" not in target and not (page.parent / target).exists():
                missing.append(f"{page.relative_to(REPO_ROOT)} -> {target}")
        if page.parent.name != "docs" and page.parent.parent.name != "docs":
            continue  # the README's paths are the README test's business
        missing += [f"{page.relative_to(REPO_ROOT)} names {path}" for path in named.findall(text)
                    if not (REPO_ROOT / path.rstrip("/.")).exists()]
    assert missing == []


def test_runpods_specs_are_the_copies_their_note_describes():
    """docs/runpod/README.md lists each copy's SHA-256: a refresh that skips the note (where, when) fails here."""
    folder = REPO_ROOT / "docs" / "runpod"
    listed = dict((name, digest) for digest, name in re.findall(r"^ +([0-9a-f]{64})  (\S+)$",
                                                               (folder / "README.md").read_text(), re.M))
    actual = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("*.json")}
    assert listed == actual and "rest-v2-beta.openapi.json" in actual
