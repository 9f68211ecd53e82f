"""Foot locking (core.footlock): the leg IK, the plant detection and the pinning of the shipped
model's planted feet, and the real skeletons' legs."""


import numpy as np
import pytest

from ohgesture.core.evaluation import measures as M
from ohgesture.core.motion.bvh import read_bvh
from ohgesture.core.generation.footlock import (held_turns, legs, pin_offsets, pin_targets, planted_runs,
                                                rotation_between, standing_height, step_lift, two_bone_ik)



def _random_legs(n, rng):
    hip = rng.normal(size=(n, 3)) * 10
    thigh = rng.normal(size=(n, 3))
    thigh *= (40 + 10 * rng.random((n, 1))) / np.linalg.norm(thigh, axis=1, keepdims=True)
    shin = rng.normal(size=(n, 3))
    shin *= (35 + 10 * rng.random((n, 1))) / np.linalg.norm(shin, axis=1, keepdims=True)
    return hip, hip + thigh, hip + thigh + shin


def test_plants_are_found_from_where_the_toe_rests_not_from_where_it_dips():
    """A toe resting 5 cm up that dips to 0 as the foot pitches, and steps 12 cm high now and then:
    against the lowest heights only the dip would count as planted."""
    frames = 300
    right = np.full(frames, 5.0)
    right[40:60] = 0.0  # the foot pitches: the toe joint dips
    right[100:130] = 12.0  # a step
    left = np.full(frames, 5.2)
    left[200:230] = 12.0
    heights = np.stack([right, left], axis=1)
    assert standing_height(heights) == pytest.approx(5.0)
    still = np.zeros(frames)
    from_dips = planted_runs(right - np.percentile(heights, 1), still, 4.7, 51.0)
    from_rest = planted_runs(right - standing_height(heights), still, 4.7, 51.0)
    assert from_dips == [(40, 60)]  # only the dip itself
    assert from_rest == [(0, 100), (130, frames)]


def test_rotation_between_turns_one_direction_onto_another():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(200, 3)), rng.normal(size=(200, 3))
    a[0] = b[0]  # no turn at all
    R = rotation_between(a, b)
    turned = np.einsum("nij,nj->ni", R, a / np.linalg.norm(a, axis=1, keepdims=True))
    assert np.allclose(turned, b / np.linalg.norm(b, axis=1, keepdims=True), atol=1e-9)
    assert np.allclose(R[0], np.eye(3))


def test_two_bone_ik_puts_the_ankle_on_a_reachable_target_and_keeps_the_bones_and_the_bend():
    rng = np.random.default_rng(1)
    hip, knee, ankle = _random_legs(500, rng)
    target = ankle + rng.normal(size=(500, 3)) * 4
    reach = np.linalg.norm(knee - hip, axis=1) + np.linalg.norm(ankle - knee, axis=1)
    ok = np.linalg.norm(target - hip, axis=1) < 0.98 * reach
    ok &= np.linalg.norm(target - hip, axis=1) > 1.02 * np.abs(np.linalg.norm(knee - hip, axis=1)
                                                               - np.linalg.norm(ankle - knee, axis=1))
    thigh, shin = two_bone_ik(hip, knee, ankle, target)
    new_knee = hip + np.einsum("fij,fj->fi", thigh, knee - hip)
    new_ankle = new_knee + np.einsum("fij,fj->fi", shin @ thigh, ankle - knee)
    assert np.abs(new_ankle[ok] - target[ok]).max() < 1e-6
    assert np.allclose(np.linalg.norm(new_knee - hip, axis=1), np.linalg.norm(knee - hip, axis=1))
    assert np.allclose(np.linalg.norm(new_ankle - new_knee, axis=1), np.linalg.norm(ankle - knee, axis=1))
    # the knee bends the same way about its hinge (which turns with the thigh): it never flips through straight
    hinge = np.cross(knee - hip, ankle - knee)
    turned_hinge = np.einsum("fij,fj->fi", thigh, hinge)
    assert np.all(np.sum(np.cross(new_knee - hip, new_ankle - new_knee) * turned_hinge, axis=1)[ok] > 0)


def test_a_target_out_of_reach_straightens_the_leg_towards_it():
    hip, knee, ankle = np.array([[0.0, 90, 0]]), np.array([[0.0, 50, 5]]), np.array([[0.0, 10, 0]])
    target = np.array([[0.0, -200, 0]])
    thigh, shin = two_bone_ik(hip, knee, ankle, target)
    new_knee = hip + thigh[0] @ (knee - hip)[0]
    new_ankle = new_knee + (shin[0] @ thigh[0]) @ (ankle - knee)[0]
    reach = np.linalg.norm(knee - hip) + np.linalg.norm(ankle - knee)
    assert np.linalg.norm(new_ankle - hip) == pytest.approx(reach, rel=1e-3)
    assert np.allclose(new_ankle[0, [0, 2]], 0.0, atol=1e-2)  # on the hip-target line
    assert np.all(np.isfinite(new_ankle))


def test_plants_need_a_low_slow_foot_for_enough_frames():
    height = np.r_[np.zeros(20), np.full(10, 20.0), np.zeros(3), np.zeros(12)]
    speed = np.r_[np.zeros(20), np.zeros(10), np.zeros(3), np.full(12, 50.0)]
    speed[5] = 40.0  # one fast frame splits the first plant
    runs = planted_runs(height, speed, max_height=5.0, max_speed=15.0, min_frames=6)
    assert runs == [(6, 20)]  # frames 0-4 are too short, 30-32 too short, 33-44 too fast


def test_pins_hold_each_plant_at_its_mean_and_ease_out_without_jumps():
    frames = 200
    t = np.arange(frames)
    points = np.stack([3 * np.sin(t / 7.0), 0.05 * t], axis=1)  # a wandering foot
    runs = [(20, 60), (66, 100), (150, 180)]  # the first two close enough to be bridged
    pinned = points + pin_offsets(points, runs, ease=6)
    # the 6-frame gap between the first two is bridged by a 12-frame move (two eases), 3 frames
    # taken from the end of each run: a step, not a snap
    for (start, end), (held_from, held_to) in zip(runs, [(20, 57), (69, 100), (150, 180)]):
        assert np.allclose(pinned[held_from:held_to], points[start:end].mean(axis=0))
    move = np.linalg.norm(np.diff(pinned[56:70], axis=0), axis=1)
    assert (move > 1e-9).all() and np.allclose(pinned[70:100], pinned[69])
    assert np.allclose(pinned[:10], points[:10]) and np.allclose(pinned[110:140], points[110:140])
    assert np.allclose(pinned[190:], points[190:])
    step = np.linalg.norm(np.diff(pinned, axis=0), axis=1)
    assert step.max() < 2.0  # the wandering moves up to 0.43 per frame; no pin snaps by more


def test_a_plant_bridged_to_the_next_still_eases_in_and_a_short_plant_between_two_moves_holds():
    frames = 120
    points = np.stack([0.3 * np.arange(frames), np.zeros(frames)], axis=1)  # a foot drifting 0.3 a frame
    for runs in ([(10, 40), (44, 50), (53, 90)], [(10, 40), (44, 90)]):
        pinned = points + pin_offsets(points, runs, ease=6)
        step = np.abs(np.diff(pinned[:, 0]))
        # the first plant is bridged to the next: it still eases in (it snapped by 4.65 at its start before)
        assert step[:12].max() < 1.5, step[:12].max()
        assert step.max() < 2.0, (runs, step.max(), step.argmax())


def test_a_planted_foot_holds_its_heading_and_turns_freely_outside_the_plant():
    from scipy.spatial.transform import Rotation

    frames = 120
    heading = np.radians(20.0) * np.sin(np.arange(frames) / 9.0)  # the sampler's foot twists +-20 deg
    pitch = np.radians(10.0) * np.sin(np.arange(frames) / 5.0)  # and rolls onto its toe
    turns = (Rotation.from_rotvec(np.outer(heading, [0, 1, 0])) * Rotation.from_rotvec(np.outer(pitch, [1, 0, 0]))).as_matrix()
    forward = np.einsum("fij,j->fi", turns, [0.0, 0.0, 1.0])
    held = held_turns(turns, np.zeros((frames, 2)), forward, [(30, 90)], tolerance=np.inf, ease=6)
    held_forward = np.einsum("fij,j->fi", held, [0.0, 0.0, 1.0])
    held_heading = np.arctan2(held_forward[:, 0], held_forward[:, 2])
    assert np.allclose(held_heading[30:90], heading[30:90].mean(), atol=1e-9)  # one heading over the plant
    assert np.allclose(held[:24], turns[:24]) and np.allclose(held[96:], turns[96:])  # its own outside
    # the roll onto the toe is kept: the angle between the foot's forward and the floor is unchanged
    assert np.allclose(np.arcsin(held_forward[:, 1]), np.arcsin(forward[:, 1]), atol=1e-9)


def test_a_foot_skimming_the_floor_between_plants_is_lifted_into_a_step():
    frames = 60
    x = np.r_[np.zeros(25), np.linspace(0.0, 20.0, 10), np.full(25, 20.0)]  # 20 cm in 10 frames
    points = np.stack([x, np.zeros(frames)], axis=1)
    lift = step_lift(points, np.zeros(frames), length=85.0, ease=6)
    assert lift[:10].max() == 0 and lift[-10:].max() == 0  # a standing foot stays down
    assert 7.0 < lift[28:32].min() and lift.max() <= 0.12 * 85.0  # mid-step half the travel, at most 12 % of the leg
    assert np.abs(np.diff(lift)).max() < 2.5  # eased: no hop
    already = step_lift(points, np.full(frames, 15.0), length=85.0, ease=6)
    assert already.max() == 0  # a foot already lifted high enough is left alone


def test_a_creeping_plant_is_held_in_place_and_shuffles_in_short_moves():
    frames, tolerance = 300, 2.5
    points = np.stack([0.2 * np.arange(frames), np.zeros(frames)], axis=1)  # 60 units of creep
    targets = pin_targets(points, tolerance, ease=6)
    assert np.abs(targets - points).max() < 2 * tolerance + 1e-9  # the leg never reaches further
    step = np.linalg.norm(np.diff(targets, axis=0), axis=1)
    assert np.all(np.diff(targets[:, 0]) >= -1e-9)  # it never moves back
    assert np.mean(step < 1e-6) > 0.4  # held still between the moves
    assert step.max() < 1.0  # each move is eased, not a jump


def test_both_real_skeletons_have_two_legs_with_toes(zeggs_bvh, bandai_dir):
    bandai = read_bvh(bandai_dir / "Bandai-Namco-Research-Motiondataset-1/data/dataset-1_bow_normal_001.bvh")
    for skeleton in (read_bvh(zeggs_bvh).skeleton, bandai.skeleton):
        found = legs(skeleton)
        names = skeleton.joint_names
        assert len(found) == 2, [names[leg.ankle] for leg in found]
        for leg in found:
            assert skeleton.parents[leg.ankle] == leg.knee and skeleton.parents[leg.knee] == leg.hip
            assert "toe" in names[leg.contact].lower()


def test_the_shipped_models_planted_feet_stay_put_and_nothing_above_the_legs_moves(speech_wavs):
    """On conversational speech (a BEAT recording the model never heard). On a voice like the
    ZEGGS speaker's the legs do not take up the hips' sway, which root anchoring handles
    (tests/core/test_root_anchor.py)."""
    from ohgesture.core.evaluation.measures import joint_groups, motion_positions, speech_inputs
    from ohgesture.core.generation.footlock import lock_feet
    from ohgesture.core.generation.pipeline import DEFAULT_MODEL, generate_features, load_model

    lm = load_model(DEFAULT_MODEL, "cpu")
    speech = speech_inputs(lm, next(w for w in speech_wavs if w.name == "2_scott_0_37_37.wav"), 20)
    raw = generate_features(lm, speech["audio"], ["happy"], np.ones(1), sampler="dpmpp_2m", steps=20,
                            foot_lock=False)
    locked = lock_feet(raw, lm.skeleton, lm.fps, lm.layout)
    leg_joints = {j for leg in legs(lm.skeleton) for j in (leg.hip, leg.knee, leg.ankle)}
    changed = set(np.flatnonzero(np.abs(locked - raw).max(axis=0) > 1e-6))
    leg_columns = {c for j in leg_joints for c in range(lm.layout.joint_slice(j).start, lm.layout.joint_slice(j).stop)}
    assert changed and changed <= leg_columns  # only the legs' rotations change
    before, after = motion_positions(lm, raw), motion_positions(lm, locked)
    feet = joint_groups(lm.skeleton)["feet"]
    sliding = M.foot_sliding(before, lm.fps, feet), M.foot_sliding(after, lm.fps, feet)
    # 12.1 -> 1.9 cm/s (6.4 before the planted foot held its heading and the steps lifted); what is left:
    # the moves between plants
    assert sliding[1] < 0.25 * sliding[0], sliding
    foot_speed = [np.median(np.linalg.norm(np.diff(pos[:, feet][:, :, [0, 2]], axis=0), axis=-1)) * lm.fps
                 for pos in (before, after)]
    # most of the time the feet stand still: the median foot speed falls from 8.6 cm/s to 0.1 (1.1 before)
    assert foot_speed[0] > 20 * foot_speed[1] and foot_speed[1] < 0.5, foot_speed
    lift = after[:, feet, 1] - before[:, feet, 1]
    still = np.r_[np.zeros((1, len(feet))), np.linalg.norm(np.diff(before[:, feet][:, :, [0, 2]], axis=0), axis=-1)
                  * lm.fps] < 5.0
    # planted feet stay on the floor, not lifted: in 90 % of the frames where a foot stood still before;
    # the rest are next to where the pin moves to a new spot, a step, which lifts the foot from up to
    # six frames before it moves
    assert np.percentile(np.abs(lift[still]), 90) < 1.0, np.percentile(np.abs(lift[still]), [50, 90, 95, 99])
    # a foot that moves between plants is lifted clear of the floor (footlock.step_lift), at most 12 % of the leg
    assert 1.0 < lift.max() < 0.12 * 90, lift.max()
    above = [j for j in range(len(lm.skeleton.joint_names)) if j not in leg_joints and j not in feet]
    above = [j for j in above if not any(lm.skeleton.parents[j] == k for k in feet)]
    assert np.allclose(after[:, above], before[:, above], atol=1e-4)
    speed = np.linalg.norm(np.diff(after, axis=0), axis=-1).max() * lm.fps
    assert speed < 1.2 * np.linalg.norm(np.diff(before, axis=0), axis=-1).max() * lm.fps  # no leg snaps


def test_real_zeggs_capture_keeps_its_planted_feet_and_its_upper_body(zeggs_bvh):
    from ohgesture.core.evaluation.measures import joint_groups
    from ohgesture.core.motion.features import FeatureLayout, features_to_motion, model_skeleton, motion_to_features
    from ohgesture.core.generation.footlock import lock_feet
    from ohgesture.core.motion.kinematics import forward_kinematics
    from ohgesture.core.motion.skeleton import Motion

    take = read_bvh(zeggs_bvh)
    take = Motion(model_skeleton(take), take.rotations[:900], take.local_translations[:900], take.fps)
    layout = FeatureLayout.for_skeleton(take.skeleton)
    features = motion_to_features(take, root_joint=layout.root_joint, dtype=np.float64)
    locked = lock_feet(features, take.skeleton, take.fps, layout)
    before, after = (forward_kinematics(features_to_motion(f, take.skeleton, take.fps, root_joint=layout.root_joint))[0]
                     for f in (features, locked))
    feet = joint_groups(take.skeleton)["feet"]
    sliding = M.foot_sliding(before, take.fps, feet), M.foot_sliding(after, take.fps, feet)
    assert sliding[1] <= sliding[0] + 0.05, sliding
    found = legs(take.skeleton)
    below = set()
    for leg in found:
        below |= {j for j in range(len(take.skeleton.parents))
                  if j != leg.hip and _descends(take.skeleton.parents, j, leg.hip)}
    moved = np.linalg.norm(after - before, axis=-1).max(axis=0)
    assert moved[[j for j in range(len(moved)) if j not in below]].max() < 1e-6  # nothing above the thighs
    # a nudge: the real feet creep far less than the 7-cm pin tolerance, and a planted foot keeps its
    # heading (95 % of the leg joints' frames within 3.9 cm); the most, 8.7 cm at a knee, is where her
    # toe swept 7 cm across the floor in two frames between two plants, now a short lifted step
    assert np.percentile(np.linalg.norm(after - before, axis=-1)[:, sorted(below)], 95) < 5.0
    assert moved[sorted(below)].max() < 10.0


def _descends(parents, joint, ancestor):
    while joint >= 0:
        if joint == ancestor:
            return True
        joint = int(parents[joint])
    return False
