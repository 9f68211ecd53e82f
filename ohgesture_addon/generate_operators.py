"""Operators: Generate and Regenerate Selection (modal, around a ``session.GenerationSession``),
Cancel Generation and Re-roll Seed."""

from __future__ import annotations

import random

import bpy
from bpy.props import StringProperty

from . import session as session_module
from .job import RUNNING

TIMER_INTERVAL = 0.1


class _GenerationOperator:
    """The modal machinery Generate and Regenerate Selection share (not registered itself:
    Blender loses track of a registered operator class that is subclassed); a subclass
    says which request its session runs in ``_request``."""

    # For scripts and tests: another script in place of core/cli/_entry.py, another interpreter.
    entry_script: StringProperty(options={"HIDDEN", "SKIP_SAVE"})
    python: StringProperty(options={"HIDDEN", "SKIP_SAVE"})

    _timer = None
    _session = None

    def _request(self, context):
        """The request to run, or None for ``build_request`` from the scene's settings."""
        return None

    def _start(self, context):
        try:
            return session_module.start_session(context, entry_script=self.entry_script, python=self.python,
                                                request=self._request(context))
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return None

    def execute(self, context):
        session = self._start(context)
        if session is None:
            return {"CANCELLED"}
        try:
            return session.run_blocking(self.report)
        finally:
            session_module.update_status(context, None)

    def invoke(self, context, event):
        if context.window is None:
            return self.execute(context)
        session = self._start(context)
        if session is None:
            return {"CANCELLED"}
        self._session = session
        self._timer = context.window_manager.event_timer_add(TIMER_INTERVAL, window=context.window)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        session = self._session
        if event.type == "ESC" and event.value == "PRESS":
            session.cancel()
        elif event.type != "TIMER" and session.state == RUNNING:
            return {"PASS_THROUGH"}
        result = session.step(self.report)
        session_module.update_status(context, session)
        if "RUNNING_MODAL" in result:
            return {"PASS_THROUGH"}
        context.window_manager.event_timer_remove(self._timer)
        session_module.update_status(context, None)
        return result

    def cancel(self, context):
        self._session.cancel()
        self._session.cleanup()
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
        session_module.update_status(context, None)


class OHGESTURE_OT_generate(_GenerationOperator, bpy.types.Operator):
    """Generate gestures for the sound onto the armature as a new action"""

    bl_idname = "ohgesture.generate"
    bl_label = "Generate Gestures"
    bl_options = {"REGISTER", "UNDO"}


class OHGESTURE_OT_regenerate_selection(_GenerationOperator, bpy.types.Operator):
    """Resample the preview range (or the selected keys' frames) of the generated action with
    the panel's seed and emotions; every key outside it stays exactly as it is"""

    bl_idname = "ohgesture.regenerate_selection"
    bl_label = "Regenerate Selection"
    bl_options = {"REGISTER", "UNDO"}

    def _request(self, context):
        return session_module.build_regenerate_request(context, entry_script=self.entry_script, python=self.python)


class OHGESTURE_OT_cancel(bpy.types.Operator):
    """Stop the running gesture generation; the scene stays unchanged"""

    bl_idname = "ohgesture.cancel"
    bl_label = "Cancel Generation"

    def execute(self, context):
        if not session_module.cancel_active_session():
            self.report({"WARNING"}, "No gesture generation is running.")
            return {"CANCELLED"}
        return {"FINISHED"}


class OHGESTURE_OT_reroll_seed(bpy.types.Operator):
    """Pick a new random seed"""

    bl_idname = "ohgesture.reroll_seed"
    bl_label = "Re-roll Seed"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        context.scene.ohgesture.seed = random.randrange(0, 2**31 - 1)
        return {"FINISHED"}


classes = (OHGESTURE_OT_generate, OHGESTURE_OT_regenerate_selection, OHGESTURE_OT_cancel, OHGESTURE_OT_reroll_seed)
