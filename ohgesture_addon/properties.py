"""Scene settings (saved with the .blend) and the running job's status (window manager,
never saved, never part of undo)."""

from __future__ import annotations

import zlib

import bpy
from bpy.props import (BoolProperty, CollectionProperty, EnumProperty, FloatProperty, IntProperty,
                       PointerProperty, StringProperty)

from ..core.generation.settings import DEFAULT_DELIVERY, DEFAULT_ENERGY, DEFAULT_GUIDANCE
from . import common
from .emotion_mix import on_mix_toggled

NO_EMOTION = "NONE"

# Dynamic enum items must stay referenced from Python or Blender shows garbage.
_emotion_items_cache: dict = {}


def _label_number(label: str) -> int:
    return 1 + zlib.crc32(label.encode("utf-8")) % 1_000_000_000


def _emotion_items(allow_none: bool):
    def items(self, context):
        try:
            labels = common.model_emotion_labels(context)
        except common.SettingsError:
            labels = []
        key = (allow_none, tuple(labels))
        if key not in _emotion_items_cache:
            # The stored value is the item's number: derive it from the label, so a choice keeps
            # its meaning when another model lists its labels in another order. Number 0 (the
            # property's default) is the model's neutral label, or its first.
            default = "neutral" if "neutral" in labels else (labels[0] if labels else None)
            entries = [(label, label.replace("_", " ").title(), f"Emotion '{label}'", 0,
                        0 if (label == default and not allow_none) else _label_number(label))
                       for label in labels]
            if allow_none or not entries:
                entries.insert(0, (NO_EMOTION, "None", "No second emotion" if allow_none else
                                   "The model has no emotion labels", 0, 0))
            _emotion_items_cache[key] = entries
        return _emotion_items_cache[key]
    return items


def _is_armature(self, obj):
    return obj.type == "ARMATURE"


class OHGestureEmotionWeight(bpy.types.PropertyGroup):
    """One slider of the emotion mix."""

    label: StringProperty(name="Emotion")
    weight: FloatProperty(name="Weight", min=0.0, max=1.0, default=0.0, subtype="FACTOR",
                          description="Share of this emotion (the weights are scaled to sum to 1)")


class OHGestureSettings(bpy.types.PropertyGroup):
    source: EnumProperty(
        name="Source",
        items=[("STRIP", "Sound Strip", "Use a sound strip of the sequencer; keys start on its first visible frame"),
               ("FILE", "Sound File", "Use an audio file; keys start on the scene's start frame")],
        default="STRIP")
    sound_strip: StringProperty(
        name="Sound Strip", description="Sound strip to animate to (empty: the active or first sound strip)")
    sound_file: StringProperty(name="Sound File", subtype="FILE_PATH", description="Audio file to animate to")
    add_sound_strip: BoolProperty(
        name="Add Sound Strip", default=True,
        description="Put the sound file in the Video Sequencer where the keys start (once per file and place); "
                    "the scene's frame range grows to cover the take either way")
    armature: PointerProperty(name="Armature", type=bpy.types.Object, poll=_is_armature,
                              description="Armature that receives the new action")
    emotion: EnumProperty(name="Emotion", items=_emotion_items(False), description="Main emotion of the gestures")
    emotion_2: EnumProperty(name="Emotion 2", items=_emotion_items(True),
                            description="Second emotion blended into the first")
    blend: FloatProperty(
        name="Share of Emotion 2", min=0.0, max=1.0, default=0.0, subtype="FACTOR",
        description="0 = only emotion 1, 1 = only emotion 2; may be animated over the strip")
    delivery: FloatProperty(
        name="Delivery", min=0.0, max=1.0, default=DEFAULT_DELIVERY, subtype="FACTOR",
        description="The repertoire of gestures, whatever the voice: 0 = conversation (smaller, closer to the body), "
                    "1 = oration (wide and high, weight shifting); may be animated over the strip (models with "
                    "performers, like the shipped one)")
    guidance: FloatProperty(name="Guidance Strength", min=0.0, soft_max=5.0, default=DEFAULT_GUIDANCE,
                            description="How strongly the emotion conditions the motion (classifier-free guidance)")
    energy: FloatProperty(
        name="Energy", min=-5.0, max=5.0, soft_min=-1.0, soft_max=3.0, default=DEFAULT_ENERGY,
        description="How much the hands move, whatever the voice's level: 0 is the training takes' mean activity, "
                    "each 1 about a standard deviation more (models with an activity encoder, like the shipped one)")
    quality: EnumProperty(
        name="Quality",
        items=[("FAST", "Fast", "DPM-Solver++, %d steps" % common.QUALITY_PRESETS["FAST"][1]),
               ("BALANCED", "Balanced", "DPM-Solver++, %d steps (the default)" % common.QUALITY_PRESETS["BALANCED"][1]),
               ("REFERENCE", "Reference", "DDPM, %d steps (slow)" % common.QUALITY_PRESETS["REFERENCE"][1])],
        default="BALANCED")
    seed: IntProperty(name="Seed", min=0, default=0, description="Same seed and settings give the same motion")
    follow_speech: BoolProperty(
        name="Follow Speech Timing", default=True,
        description="Re-time the generated motion so the hands move when the model expects from the speech "
                    "(models with an activity encoder, like the shipped one); off keeps the sampler's own timing")
    rest_in_pauses: BoolProperty(
        name="Rest in Pauses", default=True,
        description="In long pauses of the speech the arms come to rest low and relaxed; off keeps the sampler's arms "
                    "(--no-rest)")
    lock_feet: BoolProperty(
        name="Lock Feet", default=True,
        description="Pin feet that rest on the floor there (leg IK), so they do not skate; "
                    "off keeps the legs as the model made them")
    mix_emotions: BoolProperty(
        name="Mix Several Emotions", default=False, update=on_mix_toggled,
        description="One slider per emotion of the model instead of the two-emotion blend")
    emotion_mix: CollectionProperty(type=OHGestureEmotionWeight)
    use_hand_keys: BoolProperty(
        name="Keep My Keys", default=True,
        description="Rotation keys you set on the armature's bones (before generating, or changed on a generated "
                    "action) become poses the gestures pass through (the model's own armature only)")
    layer_upper_body: BoolProperty(
        name="Upper Body Layer", default=False,
        description="Key only the spine, neck, head and arms, as an NLA strip over the existing animation "
                    "(e.g. a walk), instead of replacing it")
    layer_blend_frames: IntProperty(name="Blend In/Out", min=0, default=6,
                                    description="Frames over which the layer fades in and out")


class OHGestureBonePair(bpy.types.PropertyGroup):
    """One row of an armature's bone map (stored on the object, saved with the .blend)."""

    source: StringProperty(name="Model Joint", description="Joint of the model's skeleton")
    target: StringProperty(name="Bone", description="Bone of this armature that follows the joint")


class OHGestureStatus(bpy.types.PropertyGroup):
    running: BoolProperty(name="Running", default=False)
    progress: FloatProperty(name="Progress", min=0.0, max=1.0, subtype="FACTOR", default=0.0)
    message: StringProperty(name="Status", default="")


classes = (OHGestureEmotionWeight, OHGestureSettings, OHGestureBonePair, OHGestureStatus)


def register_properties():
    bpy.types.Scene.ohgesture = PointerProperty(type=OHGestureSettings)
    bpy.types.WindowManager.ohgesture_status = PointerProperty(type=OHGestureStatus)
    # Names match retarget.MAP_PROPERTY / MAP_INDEX_PROPERTY.
    bpy.types.Object.ohgesture_bone_map = CollectionProperty(type=OHGestureBonePair)
    bpy.types.Object.ohgesture_bone_map_index = IntProperty(name="Active Pair", default=0)


def unregister_properties():
    del bpy.types.Object.ohgesture_bone_map_index
    del bpy.types.Object.ohgesture_bone_map
    del bpy.types.WindowManager.ohgesture_status
    del bpy.types.Scene.ohgesture
