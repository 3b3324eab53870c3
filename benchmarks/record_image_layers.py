"""Record the layers of the minimal and the production worker images, measured on this machine's Docker daemon,
into docs/measured/image_layers.json: the dated reference notebook 04 shows where no daemon runs.

    python benchmarks/record_image_layers.py        # needs scripts/services.sh's daemon and base image

The Docker tier of the tests (tests/test_minimal_worker.py) makes the same measurement into a temporary file on
every run; this script is how the repository's copy is refreshed, on purpose, and committed with its date."""

from __future__ import annotations

from playbook.image import build, dockerhost, first_image, layer_reference


def main() -> None:
    minimal = first_image.build_minimal(progress=True)
    production = build.build_image(build.local_settings(), progress=True)
    reports = {"minimal": build.size_report(minimal.reference), "production": build.size_report(production.reference)}
    path = layer_reference.record(reports, dockerhost.daemon_status().version)
    print(layer_reference.load(path).sentence())
    print(f"written: {path}")


if __name__ == "__main__":
    main()
