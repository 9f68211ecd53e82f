"""How much a style changes mean jerk in real capture: why the whole-take bar judges jitter as
jerk per unit of wrist speed (core/evaluation/takes.py PLAUSIBILITY_CHECKS).

For each content of the Bandai Namco styled set (dataset-1) performed normal and in an
emotion the product offers, the ratio of the emotion's figure to normal's: mean jerk of the
body parts, jerk per unit of wrist speed and mean wrist speed, all as `evaluate --takes`
measures them (core.evaluation.takes.plausibility, at 15 fps). Prints the median and
quartiles over the contents:

    python research/style_jerk.py ../shared/data/bandai-namco/Bandai-Namco-Research-Motiondataset-1/data
"""

import argparse
import collections
from pathlib import Path

import numpy as np

from ohgesture.core.evaluation.takes import plausibility, read_reference, wrist_speeds

STYLES = ("happy", "angry", "sad", "old", "tired")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the dataset-1 data folder (BVH files named dataset-1_CONTENT_STYLE_NNN)")
    args = parser.parse_args()
    figures = collections.defaultdict(dict)
    for path in sorted(args.data.glob("*.bvh")):
        _, content, style = path.stem.split("_")[:3]
        if style in STYLES or style == "normal":
            take = read_reference(path)
            p = plausibility(take)
            figures[content][style] = np.array([p["jerk"], p["jerk_per_speed"], float(wrist_speeds(take).mean())])
    print("| style | contents | mean jerk vs normal | jerk per speed vs normal | wrist speed vs normal |")
    print("|---|---|---|---|---|")
    for style in STYLES:
        ratios = np.array([f[style] / f["normal"] for f in figures.values() if style in f and "normal" in f])
        cells = [f"{np.median(r):.2f} ({np.percentile(r, 25):.2f}-{np.percentile(r, 75):.2f})" for r in ratios.T]
        print(f"| {style} | {len(ratios)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
