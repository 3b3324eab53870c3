"""Input validation: clear errors naming the field and what is allowed, and none of rp_validator's bugs."""

from __future__ import annotations

import sys

import pytest

from playbook.core.config import worker_on_path

worker_on_path()
from imagegen import schema  # noqa: E402


def refused(fields) -> str:
    with pytest.raises(schema.InputError) as info:
        schema.parse_generate(fields)
    return str(info.value)


def test_a_value_above_the_maximum_is_refused_even_though_the_field_has_a_default():
    # rp_validator 1.12 skips constraints when a rule has a default: {"steps": 500} would pass.
    assert schema.GenerateInput.model_fields["num_inference_steps"].default == 25
    message = refused({"prompt": "x", "num_inference_steps": 500})
    assert "'num_inference_steps' = 500" in message and "from 1 to 100" in message


def test_a_wrong_type_is_an_error_message_not_a_type_error():
    # rp_validator 1.12 runs constraints after a type error and raises TypeError out of validate().
    message = refused({"prompt": "x", "width": "64"})
    assert "'width' = '64'" in message and "integer, a multiple of 8, from 64 to 2048" in message
    assert "'guidance_scale' = True" in refused({"prompt": "x", "guidance_scale": True})


@pytest.mark.parametrize("fields, words", [
    ({}, ["'prompt' is required", "string, 1 to 2000 characters"]),
    ({"prompt": ""}, ["'prompt' = ''", "1 to 2000 characters"]),
    ({"prompt": "x", "width": 65}, ["'width' = 65", "multiple of 8"]),
    ({"prompt": "x", "height": 4096}, ["'height' = 4096", "from 64 to 2048"]),
    ({"prompt": "x", "num_images": 0}, ["'num_images' = 0", "from 1 to 8"]),
    ({"prompt": "x", "seed": -1}, ["'seed' = -1", "from 0 to 4294967295"]),
    ({"prompt": "x", "output_format": "gif"}, ["'output_format' = 'gif'", "one of png, jpeg, webp"]),
    ({"prompt": "x", "steps": 2}, ["'steps' is not a known field", "num_inference_steps"]),
])
def test_each_bad_field_is_named_with_what_is_allowed(fields, words):
    message = refused(fields)
    assert message.startswith("invalid input: ")
    for w in words:
        assert w in message


def test_several_bad_fields_are_all_reported():
    message = refused({"prompt": "x", "seed": -1, "output_format": "gif"})
    assert "'seed'" in message and "'output_format'" in message


def test_actions():
    assert schema.parse_action({"prompt": "x"}) == "generate"
    assert schema.parse_action({"action": "health_check"}) == "health_check"
    with pytest.raises(schema.InputError, match="unknown action 'paint'; allowed actions: generate, health_check"):
        schema.parse_action({"action": "paint"})
    with pytest.raises(schema.InputError, match="'input' must be a JSON object, not str"):
        schema.parse_action("a prompt")


def test_worker_code_does_not_import_playbook():
    import ast
    from pathlib import Path

    for path in Path(sys.modules["imagegen"].__file__).parent.parent.rglob("*.py"):
        nodes = list(ast.walk(ast.parse(path.read_text())))
        imported = {a.name for n in nodes if isinstance(n, ast.Import) for a in n.names} | \
            {n.module or "" for n in nodes if isinstance(n, ast.ImportFrom)}
        assert not {m for m in imported if m == "playbook" or m.startswith("playbook.")}, path
