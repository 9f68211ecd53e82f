"""Pictures of whole takes: stick-figure contact sheets, an animated GIF preview, and plots of
wrist height and liveliness, and a close-up of the hands. Figures are drawn front-on or from the side (the figure's left): each
frame is turned about the vertical so the shoulders' left-right axis is +X (as
core.evaluation.take_pose.heading_aligned), around the hips' median place over the take, so the
hips' sway shows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from . import takes as T

FIGURE_DPI = 80


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _descendants(parents: np.ndarray, roots: list[int]) -> set[int]:
    found = set(roots)
    for j, p in enumerate(parents):  # parents[j] < j: one pass finds every descendant
        if p in found:
            found.add(j)
    return found - set(roots)


def stick_bones(take: T.Take) -> list[tuple[int, int]]:
    """(parent, child) pairs to draw: every bone but the fingers and a floor-level root's link."""
    parents = [int(p) for p in take.parents]
    fingers = _descendants(take.parents, [take.parts["wrist_l"], take.parts["wrist_r"]])
    lone_tops = {j for j, p in enumerate(parents) if p < 0 and parents.count(j) == 1}
    return [(p, j) for j, p in enumerate(parents) if p >= 0 and p not in lone_tops and j not in fingers]


def front_view(take: T.Take, view: str = "front") -> np.ndarray:
    """(F, J, 2) screen positions in cm: x across the body ("front"; the figure's left at +x) or along
    the way it faces ("side": facing +x), relative to the hips' median place over the take; y above
    the take's lowest joint."""
    across = take.part("shoulder_l") - take.part("shoulder_r")
    angle = np.arctan2(across[:, 2], across[:, 0])[:, None]
    rel = take.positions - np.median(take.part("hips"), axis=0)
    if view == "front":
        x = np.cos(angle) * rel[..., 0] + np.sin(angle) * rel[..., 2]
    else:
        x = -np.sin(angle) * rel[..., 0] + np.cos(angle) * rel[..., 2]
    y = take.positions[..., 1] - np.percentile(take.positions[..., 1].min(axis=1), 1)
    return np.stack([x, y], axis=-1)


def _draw_pose(ax, screen: np.ndarray, bones, head: int, colour: str = "tab:blue") -> list:
    """Lines for ``bones`` and, last, a dot on the head joint (the head's own bone is often an End Site)."""
    lines = [ax.plot(screen[[a, b], 0], screen[[a, b], 1], "-", color=colour, lw=1.4,
                     solid_capstyle="round")[0] for a, b in bones]
    return lines + [ax.plot(screen[[head], 0], screen[[head], 1], "o", color=colour, ms=3.5)[0]]


def _frame_axes(ax, height: float) -> None:
    ax.set_xlim(-0.32 * height, 0.32 * height)
    ax.set_ylim(-0.03 * height, 1.05 * height)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def contact_sheet(rows: list[tuple[str, T.Take]], path: Path, columns: int = 10, view: str = "front") -> Path:
    """One row per labelled take, ``columns`` frames evenly from its first to its last frame, seen from
    the front or the side (``view``, front_view)."""
    plt = pyplot()
    screens = [front_view(take, view) for _, take in rows]
    height = max(float(s[..., 1].max()) for s in screens)
    fig, axes = plt.subplots(len(rows), columns, figsize=(0.62 * columns + 0.5, 1.25 * len(rows)), squeeze=False)
    for r, ((label, take), screen) in enumerate(zip(rows, screens)):
        bones = stick_bones(take)
        colour = "tab:gray" if take.label == "real" else "tab:blue"
        for c, f in enumerate(np.linspace(0, len(screen) - 1, columns).round().astype(int)):
            ax = axes[r, c]
            _draw_pose(ax, screen[f], bones, take.parts["head"], colour)
            _frame_axes(ax, height)
            ax.set_title(f"{f / take.fps:.{0 if take.duration >= 20 else 1}f} s", fontsize=6, pad=1)
        axes[r, 0].set_ylabel(label, fontsize=7)
    fig.subplots_adjust(left=0.08, right=0.995, top=0.97, bottom=0.005, wspace=0.0, hspace=0.18)
    return save_png(fig, path)


def hand_sheet(rows: list[tuple[str, T.Take]], path: Path, columns: int = 6) -> Path:
    """A close-up of both hands: one row per labelled take, ``columns`` frames evenly from its first to
    its last frame, each the right hand (on the left, as seen) and the left hand from the front
    (front_view), the forearm's end, the hand and every joint below it; a take without fingers
    says so in its label."""
    plt = pyplot()
    fig, axes = plt.subplots(len(rows), 2 * columns, figsize=(0.75 * 2 * columns + 0.6, 1.3 * len(rows)),
                             squeeze=False)
    for r, (label, take) in enumerate(rows):
        screen = front_view(take)
        colour = "tab:gray" if take.label == "real" else "tab:blue"
        for h, side in enumerate("rl"):
            wrist, elbow = take.parts[f"wrist_{side}"], take.parts[f"elbow_{side}"]
            below = sorted(_descendants(take.parents, [wrist]))
            bones = [(elbow, wrist)] + [(int(take.parents[j]), j) for j in below]
            hand = [wrist, *below]
            reach = np.linalg.norm(take.positions[:, below] - take.positions[:, [wrist]], axis=-1).max() \
                if below else 8.0
            for c, f in enumerate(np.linspace(0, len(screen) - 1, columns).round().astype(int)):
                ax = axes[r, 2 * c + h]
                centre = screen[f, hand].mean(axis=0)
                for a, b in bones:
                    ax.plot(screen[f, [a, b], 0], screen[f, [a, b], 1], "-o", color=colour, lw=1.0, ms=1.5)
                ax.set_xlim(centre[0] - 0.8 * reach, centre[0] + 0.8 * reach)
                ax.set_ylim(centre[1] - 0.8 * reach, centre[1] + 0.8 * reach)
                ax.set_aspect("equal")
                ax.set_xticks([])
                ax.set_yticks([])
                time = f"{f / take.fps:.{0 if take.duration >= 20 else 1}f} s, " if h == 0 else ""
                ax.set_title(f"{time}{'right' if side == 'r' else 'left'}", fontsize=6, pad=1)
        axes[r, 0].set_ylabel(label if take.fingers else f"{label}\n(no fingers)", fontsize=7)
    fig.subplots_adjust(left=0.06, right=0.995, top=0.95, bottom=0.005, wspace=0.04, hspace=0.2)
    return save_png(fig, path)


def save_png(fig, path: Path) -> Path:
    plt = pyplot()
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=FIGURE_DPI, format="png")
    plt.close(fig)
    return path


def preview_gif(take: T.Take, path: Path, start_s: float = 0.0, seconds: float = 4.0, fps: float = 10.0,
                title: str = "") -> Path:
    """An animated stick figure (front view) of ``seconds`` of the take from ``start_s``, 16 colours."""
    from PIL import Image

    plt = pyplot()
    screen = front_view(take)
    height = float(screen[..., 1].max())
    frames = np.arange(start_s, min(start_s + seconds, take.duration), 1.0 / fps)
    fig, ax = plt.subplots(figsize=(2.0, 3.0), dpi=FIGURE_DPI)
    bones = stick_bones(take)
    head = take.parts["head"]
    lines = _draw_pose(ax, screen[0], bones, head)
    _frame_axes(ax, height)
    caption = ax.set_title("", fontsize=7)
    fig.subplots_adjust(left=0.02, right=0.98, top=0.9, bottom=0.02)
    images = []
    for t in frames:
        pose = screen[min(int(round(t * take.fps)), len(screen) - 1)]
        for line, (a, b) in zip(lines, bones + [(head, head)]):
            line.set_data(pose[[a, b], 0], pose[[a, b], 1])
        caption.set_text(f"{title} {t:.1f} s".strip())
        fig.canvas.draw()
        rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3]
        images.append(Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16))
    plt.close(fig)
    path = Path(path)
    with atomic_path(path, suffix=".gif") as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=int(1000 / fps),
                       loop=0, optimize=True)
    return path


def height_plot(heights: dict[str, np.ndarray], real_heights: np.ndarray | None, path: Path) -> Path:
    """Wrist height above the shoulder (arm lengths), both wrists pooled: each emotion against real
    (``real_heights`` None: the emotions alone)."""
    plt = pyplot()
    centres = 0.5 * (T.HEIGHT_BINS[1:] + T.HEIGHT_BINS[:-1])
    fig, ax = plt.subplots(figsize=(6.0, 3.0))
    if real_heights is not None:
        ax.fill_between(centres, T.height_histogram(real_heights), step="mid", color="0.75", label="real takes")
    for label, values in heights.items():
        ax.step(centres, T.height_histogram(values), where="mid", lw=1.2, label=label)
    ax.axvline(0.0, color="k", lw=0.6, ls=":")
    ax.set_xlabel("wrist above its shoulder (arm lengths: -1 hanging, +1 straight up)")
    ax.set_ylabel("share of frames")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return save_png(fig, path)


def liveliness_plot(blocks: dict[str, list[list[float]]], bar: dict, path: Path) -> Path:
    """Mean wrist speed per 10-s block, one line per take, a panel-wide band for the quality bar."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 3.0))
    ax.axhspan(bar["block_min"], bar["block_max"], color="tab:green", alpha=0.08, label="quality bar")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, series) in enumerate(blocks.items()):
        real = label == "real"
        colour = "k" if real else colours[i % len(colours)]
        for k, values in enumerate(series):
            ax.plot(np.arange(len(values)) * T.BLOCK_SECONDS, values, "-o", ms=2, lw=2.2 if real else 1,
                    color=colour, label=label if k == 0 else None)
    ax.set_xlabel("block start (s)")
    ax.set_ylabel("mean wrist speed (cm/s)")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return save_png(fig, path)
