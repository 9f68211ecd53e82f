"""Fuzz read_bvh: mutated or truncated BVH text must either parse or raise
BVHError, never another exception and never hang."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from ohgesture.core.motion.bvh import BVHError, read_bvh
from ohgesture.core.motion.skeleton import Motion

from bvh_mutations import BASE_BVH, mutated_bvh

@pytest.fixture(scope="module")
def scratch_file(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz") / "mutated.bvh"


def test_unmutated_base_parses(scratch_file):
    scratch_file.write_text(BASE_BVH)
    motion = read_bvh(scratch_file)
    assert motion.num_frames == 3 and motion.skeleton.num_joints == 4


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=mutated_bvh)
def test_mutated_bvh_parses_or_raises_bvherror(data, scratch_file):
    scratch_file.write_bytes(data)
    try:
        motion = read_bvh(scratch_file)
    except BVHError as error:
        message = str(error)
        assert str(scratch_file) in message and "line " in message, message
        return
    assert isinstance(motion, Motion)
    frames, joints = motion.num_frames, motion.skeleton.num_joints
    assert motion.rotations.shape == (frames, joints, 4)
    assert motion.local_translations.shape == (frames, joints, 3)
    assert np.all(np.isfinite(motion.rotations)) and np.all(np.isfinite(motion.local_translations))
    assert motion.fps > 0
