"""Standing on the floor: generation puts a take's toes at the height the training motion's
toes stood at (core.generation.pipeline.ground, checkpoint metadata floor_height)."""

import numpy as np
import pytest

from ohgesture.core.motion.measures import MotionMeasureError, contact_joints, floor_height


def test_the_floor_is_where_the_toes_stand_not_one_bad_frame():
    from ohgesture.core.motion.skeleton import Skeleton

    names = ["Hips", "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase", "LeftToe_End"]
    skeleton = Skeleton("legs", names, [-1, 0, 1, 2, 3, 4], np.zeros((6, 3)))
    assert contact_joints(skeleton) == [4]
    positions = np.zeros((200, 6, 3))
    positions[:, 4, 1] = 3.0
    positions[50, 4, 1] = -40.0  # one glitch
    assert floor_height(positions, [4]) == pytest.approx(3.0)
    with pytest.raises(MotionMeasureError):
        floor_height(positions, [])


def test_training_records_the_floor_of_its_motion(tiny_checkpoint):
    from ohgesture.core.model.checkpoint import read_metadata

    meta = read_metadata(tiny_checkpoint)
    assert np.isfinite(meta["floor_height"])


def test_the_shipped_model_stands_on_one_floor_whatever_the_voice(speech_wavs, zeggs_wav):
    """Before grounding, the BEAT voice stood the toes 9 cm up and the ZEGGS voice 3 cm."""
    from ohgesture.core.evaluation.measures import motion_positions, speech_inputs
    from ohgesture.core.generation.pipeline import DEFAULT_MODEL, generate_features, load_model

    lm = load_model(DEFAULT_MODEL, "cpu")
    target = lm.metadata["floor_height"]
    toes = contact_joints(lm.skeleton)
    beat = next(w for w in speech_wavs if w.name == "2_scott_0_37_37.wav")
    for wav in (beat, zeggs_wav):
        speech = speech_inputs(lm, wav, 15)
        for foot_lock in (True, False):
            motion = generate_features(lm, speech["audio"], ["old"], np.ones(1), foot_lock=foot_lock)
            assert floor_height(motion_positions(lm, motion), toes) == pytest.approx(target, abs=0.05)
