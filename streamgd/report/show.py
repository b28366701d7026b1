"""A trained model in words: coefficients in original units, and how it was made.

    streamgd show streamgd-out/model.json

The coefficients act on the raw feature values (the scaler folded in), sorted
by magnitude; the scaled weight beside each is the effect of one standard unit
of the scaled input (with the standard scaler: one standard deviation), which
compares across features whatever their units.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from streamgd.model.saved import TrainedModel


def model_summary(model: TrainedModel) -> dict[str, Any]:
    """A JSON-ready account of the model, coefficients sorted by magnitude."""
    weights, intercept = model.original_coefficients()
    order = np.argsort(-np.abs(weights), kind="stable")
    constant = set(np.flatnonzero(model.stats.constant).tolist())
    coefficients = [
        {"feature": model.features[j], "weight": float(weights[j]),
         "scaled_weight": float(model.params.weights[j]),
         "constant": j in constant}
        for j in order
    ]
    summary = {"kind": model.kind, "target": model.target,
               "scaler": model.scaler.method, "coefficients": coefficients,
               "intercept": intercept, "training": model.training}
    if model.labels is not None:
        summary["labels"] = model.labels.to_dict()
    return summary


def format_model(model: TrainedModel) -> str:
    """The summary as text: a header, the coefficient table, the training run."""
    summary = model_summary(model)
    lines = [f"{model.kind} model of {model.target!r},"
             f" inputs scaled by {model.scaler.method}"]
    if "labels" in summary:
        labels = summary["labels"]
        lines.append(_labels_line(labels))
    width = max([len(c["feature"]) for c in summary["coefficients"]] + [11])
    lines.append(f"  {'feature':<{width}}  {'weight':>14}  {'scaled weight':>14}")
    for item in summary["coefficients"]:
        note = "  (constant: held at 0)" if item["constant"] else ""
        lines.append(f"  {item['feature']:<{width}}  {item['weight']:>14.6g}"
                     f"  {item['scaled_weight']:>14.6g}{note}")
    lines.append(f"  {'(intercept)':<{width}}  {summary['intercept']:>14.6g}")
    lines.extend(_training_lines(model.training))
    return "\n".join(lines)


def _labels_line(labels: dict[str, Any]) -> str:
    if labels["threshold"] is not None:
        return f"positive class: target > {labels['threshold']:g}"
    return f"classes: {labels['negative']!r} (0), {labels['positive']!r} (1)"


def rows_phrase(training: dict[str, Any]) -> str:
    """"N rows (H held out, D dropped)": the rows the model was trained on.

    `rows` counts every row read; a hashed holdout's rows are not trained on
    (`rows_trained`, written since the holdout existed; older models lack it).
    """
    rows = training.get("rows_trained", training.get("rows"))
    if rows is None:
        return "? rows"
    held = training.get("rows", rows) - rows
    held_out = f"{held:,} held out, " if held else ""
    return f"{rows:,} rows ({held_out}{training.get('rows_dropped', 0):,} dropped)"


def steps_phrase(training: dict[str, Any]) -> str:
    """"E epochs, U updates"; for full-batch runs their iterations and passes
    (an epoch there is a pass over the data, the start's evaluation included)."""
    if "iterations" not in training:
        updates = training.get("updates", 0)
        return f"{training.get('epochs')} epochs, {updates:,} updates"
    polish = (f"{training['iterations']:,} iterations"
              f" ({training['passes']:,} data passes)")
    sgd_epochs = len(training.get("epoch_costs") or [])
    if not sgd_epochs:
        return polish
    sgd_updates = training["updates"] - training["iterations"]
    return f"{sgd_epochs} epochs, {sgd_updates:,} updates, then {polish}"


def cost_lines(training: dict[str, Any]) -> list[str]:
    """The run's final cost, said for what it is.

    A streaming run's epoch cost averages the costs of its updates, each taken
    on its batch before the update: it describes the path, and the model
    written at the end usually does a little better or worse. A full-batch run
    (or an SGD run's polish) measures its final model on every row.
    """
    lines = []
    final = training.get("final_cost")
    if "iterations" in training and final is not None:
        lines.append(f"training cost of the final model {final:.6g}"
                     " (measured on every training row)")
    elif final is not None:
        lines.append(f"last epoch's mean update cost {final:.6g} (each batch"
                     " costed before its update, not the written model)")
    if training.get("train_cost") is not None:
        lines.append(f"training cost of the written model"
                     f" {training['train_cost']:.6g} (validation.final_pass)")
    return lines


def _training_lines(training: dict[str, Any]) -> list[str]:
    if not training:
        return []
    lines = [f"trained on {rows_phrase(training)}: {steps_phrase(training)},"
             f" {training.get('seconds', 0):.1f}s, stop: {training.get('stop_reason')}"]
    costs = training.get("epoch_costs") or []
    if costs:
        lines.append("epoch costs (mean update cost, each before its update): "
                     + ", ".join(f"{cost:.6g}" for cost in costs))
    if training.get("train_cost") is not None:
        lines.append(f"training cost of this model {training['train_cost']:.6g}")
    rate_line = learning_rate_line(training)
    if rate_line:
        lines.append(rate_line)
    return lines


def learning_rate_line(training: dict[str, Any]) -> str | None:
    """The initial learning rate, where it came from, and the steps capped."""
    rate = training.get("learning_rate")
    if rate is None:
        return None
    source = training.get("learning_rate_from")
    line = f"learning rate {rate:.4g}"
    if source == "job":
        line += " (the job's)"
    elif source:
        line += f" (not given; derived: {source})"
    schedule = training.get("schedule")
    if schedule is not None:
        line += f", schedule {schedule}"
        if training.get("schedule_from") not in (None, "job"):
            line += f" (not given; {training['schedule_from']})"
    capped = training.get("capped_updates")
    if capped:
        line += f"; {capped:,} steps capped at their batch's minimum"
    return line
