"""The worker's contract: generated copies match the models, the OpenAPI document is valid, every
example passes the JSON Schema, pydantic and rp_validator, and real results match the result schema."""

from __future__ import annotations

import json

import jsonschema
import pytest
from openapi_spec_validator import validate as validate_openapi
from runpod.serverless.utils import rp_validator

from playbook.handler.preview import start_worker
from playbook.journey import contract
from playbook.weights.demo_model import make_demo_model

schema, results = contract.worker_models()
REQUEST = json.loads((contract.CONTRACT_DIR / "request.schema.json").read_text())
RESULT = json.loads((contract.CONTRACT_DIR / "result.schema.json").read_text())


def test_no_generated_copy_drifts_from_the_models():
    assert contract.drifted() == [], "run `playbook contract --write` and commit the files"


def test_a_changed_copy_is_found_and_rewritten(tmp_path, monkeypatch):
    monkeypatch.setattr(contract, "WORKER", tmp_path)
    monkeypatch.setattr(contract, "CONTRACT_DIR", tmp_path / "contract")
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{contract.TABLE_START}\nstale\n{contract.TABLE_END}\noutro\n")
    monkeypatch.setattr(contract, "README", readme)
    assert len(contract.drifted()) == 7  # 5 contract files and the 2 shared modules
    contract.write()
    assert contract.drifted() == []
    assert readme.read_text().startswith("intro\n") and "| generate | `prompt` |" in readme.read_text()
    (tmp_path / "test_input.json").write_text("{}\n")
    assert contract.drifted() == [tmp_path / "test_input.json"]
    copy = tmp_path / "imagegen" / "safetensors_header.py"  # a hand edit of the worker's copy is found too
    copy.write_text(copy.read_text().replace("100_000_000", "100 * 1024 * 1024"))
    assert copy in contract.drifted()


def test_the_openapi_document_is_valid_openapi_3_1_on_runpods_job_api_paths():
    doc = json.loads((contract.CONTRACT_DIR / "openapi.json").read_text())
    validate_openapi(doc)
    assert doc["openapi"] == "3.1.0" and doc["servers"][0]["url"] == "https://api.runpod.ai/v2/{endpoint_id}"
    assert {"/run", "/runsync", "/status/{job_id}", "/cancel/{job_id}", "/health"} <= set(doc["paths"])
    components = doc["components"]["schemas"]
    assert {"GenerateInput", "HealthCheckInput", "GenerateOutput", "HealthOutput"} <= set(components)
    # the examples in the document are valid job bodies
    body = {**doc["components"]["schemas"]["JobRequest"], "components": doc["components"]}
    for example in doc["paths"]["/run"]["post"]["requestBody"]["content"]["application/json"]["examples"].values():
        jsonschema.validate(example["value"], body, cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize("name", list(schema.EXAMPLES))
def test_every_example_passes_the_json_schema_pydantic_and_rp_validator(name):
    example = schema.EXAMPLES[name]
    jsonschema.validate(example, REQUEST, cls=jsonschema.Draft202012Validator)
    parsed = schema.parse(dict(example))
    assert parsed.action == example.get("action", "generate")
    checked = rp_validator.validate(dict(example), schema.rp_validator_rules(parsed.action))
    assert "errors" not in checked, checked
    assert {k: v for k, v in checked["validated_input"].items()} == parsed.model_dump()


def test_test_input_json_is_the_first_example():
    shipped = json.loads((contract.WORKER / "test_input.json").read_text())
    assert shipped == {"input": next(iter(schema.EXAMPLES.values()))}


@pytest.mark.parametrize("bad", [
    {"prompt": ""},
    {"prompt": "x", "width": 65},
    {"prompt": "x", "steps": 2},
    {"action": "health_check", "prompt": "x"},
    {"action": "paint", "prompt": "x"},
    {},
])
def test_a_bad_request_is_refused_by_the_schema_and_by_the_worker(bad):
    assert not jsonschema.Draft202012Validator(REQUEST).is_valid(bad)
    with pytest.raises(schema.InputError):
        schema.parse(bad)


def test_rp_validator_rules_refuse_what_they_can_and_the_default_bug_is_real():
    rules = schema.rp_validator_rules("generate")
    assert rp_validator.validate({"prompt": ""}, rules).get("errors")
    assert rp_validator.validate({"prompt": "x", "colour": "red"}, rules).get("errors")
    # runpod 1.12 skips constraints of a rule with a default: why the worker validates with pydantic
    assert "errors" not in rp_validator.validate({"prompt": "x", "num_inference_steps": 500}, rules)
    assert rules["num_inference_steps"]["constraints"](500) is False
    with pytest.raises(schema.InputError, match="num_inference_steps"):
        schema.parse({"prompt": "x", "num_inference_steps": 500})


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    return start_worker(make_demo_model(tmp_path_factory.mktemp("contract") / "tiny-sd"))


@pytest.mark.parametrize("name", list(schema.EXAMPLES))
def test_real_results_of_every_example_match_the_result_schema(worker, name):
    output = worker.handle({"id": "job-1", "input": dict(schema.EXAMPLES[name])})
    assert "error" not in output, output
    jsonschema.validate(output, RESULT, cls=jsonschema.Draft202012Validator)
    model = results.OUTPUTS[schema.EXAMPLES[name].get("action", "generate")]
    model.model_validate(output)
