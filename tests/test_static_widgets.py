"""HTML copies show widgets without a network: the pool picker and progress bars from the saved widget
state, and no glued values."""

from __future__ import annotations

import json

import nbformat

from playbook.journey.notebooks import GLUE_MIME, render_html
from playbook.journey.static_widgets import WIDGET_STATE, WIDGET_VIEW


def model(name, **state):
    return {"model_name": name, "model_module": "@jupyter-widgets/controls", "model_module_version": "2.0.0",
            "state": state}


def test_widgets_render_as_html_from_their_saved_state_and_glue_is_hidden(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {WIDGET_STATE: {"version_major": 2, "version_minor": 0, "state": {
        "pick": model("DropdownModel", description="GPU pool", index=1, _options_labels=["AMPERE_16", "ADA_24"]),
        "bar": model("HBoxModel", children=["IPY_MODEL_left", "IPY_MODEL_prog", "IPY_MODEL_right"]),
        "left": model("HTMLModel", value="jobs: 50%"), "prog": model("FloatProgressModel", value=6.0, max=12.0),
        "right": model("HTMLModel", value=" 6/12 [00:03&lt;00:03]")}}}
    cell = nbformat.v4.new_code_cell("picker; bar; glue('x', 1)")
    view = lambda mid: {WIDGET_VIEW: {"model_id": mid, "version_major": 2, "version_minor": 0},  # noqa: E731
                        "text/plain": "Widget(...)"}
    cell.outputs = [nbformat.v4.new_output("display_data", data=view("pick")),
                    nbformat.v4.new_output("display_data", data=view("bar")),
                    nbformat.v4.new_output("display_data", data={GLUE_MIME: {"secret_number": 0.123456789}})]
    nb.cells = [cell]
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb))
    page = render_html(path).read_text()
    assert '<select disabled=""><option>AMPERE_16</option><option selected="">ADA_24</option></select>' in page
    assert '<progress max="12.0" value="6.0">' in page or 'value="6.0" max="12.0"' in page
    assert "jobs: 50%" in page and "6/12" in page
    assert "0.123456789" not in page and WIDGET_VIEW not in page and "Widget(...)" not in page


def test_a_print_split_across_stream_messages_renders_as_one_output(tmp_path):
    """The kernel may send a print's text and its newline as two messages; the copy must not show an empty block."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print('fixed')")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="fixed"),
                    nbformat.v4.new_output("stream", name="stdout", text="\n")]
    nb.cells = [cell]
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb))
    page = render_html(path).read_text()
    assert page.count('class="jp-OutputArea-child"') == 1 and "fixed" in page
