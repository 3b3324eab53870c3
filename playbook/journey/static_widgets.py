"""Widgets in HTML copies of notebooks, readable offline: each widget output is rendered as plain HTML from
the widget state the executed notebook keeps (nbclient stores it in ``metadata.widgets``).

Why: nbconvert leaves widgets to ipywidgets' HTML manager, a script fetched from a CDN; offline (or where
the CDN is blocked) the pool picker and every progress bar render as nothing. Here a Dropdown becomes a
disabled ``<select>`` with its options and the chosen one, a tqdm bar (an HBox of HTML, FloatProgress,
HTML) becomes its text around a ``<progress>``, and other widgets show their description and value.
"""

from __future__ import annotations

import html

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _render(model_id: str, states: dict, depth: int = 0) -> str:
    model = states.get(model_id)
    if model is None or depth > 8:
        return ""
    name, state = model["model_name"], model["state"]
    label = html.escape(state.get("description") or "")
    if name in ("HBoxModel", "VBoxModel", "BoxModel", "GridBoxModel"):
        parts = [_render(child.removeprefix("IPY_MODEL_"), states, depth + 1) for child in state.get("children", [])]
        sep = " " if name == "HBoxModel" else "<br>"
        return f'<div class="static-widget">{sep.join(p for p in parts if p)}</div>'
    if name in ("HTMLModel", "HTMLMathModel"):
        return f"{label} {state.get('value', '')}".strip()  # already HTML, as the widget would show it
    if name in ("LabelModel", "TextModel", "TextareaModel"):
        return f"{label} {html.escape(str(state.get('value', '')))}".strip()
    if name in ("FloatProgressModel", "IntProgressModel"):
        return (f'{label} <progress value="{state.get("value", 0)}" max="{state.get("max", 100)}">'
                f'{state.get("value", 0)}</progress>').strip()
    if name in ("DropdownModel", "SelectModel", "RadioButtonsModel", "ToggleButtonsModel"):
        chosen = state.get("index")
        options = "".join(f'<option{" selected" if i == chosen else ""}>{html.escape(str(text))}</option>'
                          for i, text in enumerate(state.get("_options_labels", [])))
        return f"<label>{label} <select disabled>{options}</select></label>"
    if name == "OutputModel":
        texts = []
        for out in state.get("outputs", []):
            data = out.get("data", {})
            if "text/html" in data:
                texts.append("".join(data["text/html"]))
            elif "text/plain" in data or "text" in out:
                texts.append(f"<pre>{html.escape(''.join(data.get('text/plain', out.get('text', ''))))}</pre>")
        return "".join(texts)
    if "value" in state:
        return f"{label} {html.escape(str(state['value']))}".strip()
    return ""


def make_static(nb) -> int:
    """Give every widget output of ``nb`` (an nbformat node, changed in place) an HTML rendering and drop
    the widget view and state, so nbconvert shows the HTML; returns how many widgets were rendered."""
    states = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    done = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if not view:
                continue
            rendered = _render(view["model_id"], states)
            del output["data"][WIDGET_VIEW]
            if rendered:
                output["data"]["text/html"] = rendered
                done += 1
    nb.metadata.pop("widgets", None)
    return done
