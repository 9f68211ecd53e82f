"""The emotion mix: one weight slider per emotion of the model instead of the two-emotion
blend, passed to ``generate --mix``."""

from __future__ import annotations

import bpy

from . import common


def sync_emotion_mix(settings, labels) -> None:
    """One slider per emotion label of the model, keeping the weights of labels it had."""
    items = settings.emotion_mix
    if [item.label for item in items] == list(labels):
        return
    old = {item.label: item.weight for item in items}
    items.clear()
    for label in labels:
        item = items.add()
        item.label = label
        item.weight = old.get(label, 0.0)
    if labels and not any(item.weight > 0 for item in items):
        items[0].weight = 1.0


def on_mix_toggled(settings, context) -> None:
    """Update callback of the Mix Several Emotions setting: fill in the sliders."""
    if not settings.mix_emotions:
        return
    try:
        sync_emotion_mix(settings, common.model_emotion_labels(context))
    except common.SettingsError:
        pass


def mix_argument(items, labels) -> tuple[list[tuple[str, float]], str]:
    """Normalised (label, weight) pairs with weight > 0, and the ``--mix`` text."""
    pairs = [(str(item.label), float(item.weight)) for item in items]
    unknown = [label for label, _ in pairs if labels and label not in labels]
    if unknown:
        raise common.SettingsError(f"The model does not know the emotion '{unknown[0]}'; press Load Model Emotions.")
    total = sum(w for _, w in pairs if w > 0)
    if not total > 0:
        raise common.SettingsError("Give at least one emotion a weight above 0.")
    mix = [(label, w / total) for label, w in pairs if w > 0]
    return mix, ",".join(f"{label}:{w:.6g}" for label, w in mix)


class OHGESTURE_OT_sync_emotion_mix(bpy.types.Operator):
    """One slider per emotion of the current model"""

    bl_idname = "ohgesture.sync_emotion_mix"
    bl_label = "Load Model Emotions"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        try:
            labels = common.model_emotion_labels(context)
        except common.SettingsError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        sync_emotion_mix(context.scene.ohgesture, labels)
        return {"FINISHED"}


classes = (OHGESTURE_OT_sync_emotion_mix,)
