"""A contact sheet of clocks, one family after another: ``python -m generators.clocks.contact_sheet OUT.png``."""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image, ImageDraw

from generators.clocks.canvas import font
from generators.clocks.generate import ClockConfig, make_example
from generators.clocks.spec import FAMILY_NAMES


def contact_sheet(n: int = 64, cols: int = 8, tile: int = 128, seed: int = 0) -> Image.Image:
    """``n`` clocks cycling through every family, each tile captioned with its family and label."""
    rows = -(-n // cols)
    cap = 14
    sheet = Image.new("RGB", (cols * tile, rows * (tile + cap)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    f = font("DejaVuSans.ttf", 10)
    for k in range(n):
        fam = FAMILY_NAMES[k % len(FAMILY_NAMES)]
        ex = make_example(k // len(FAMILY_NAMES), ClockConfig(size=256, families=(fam,), p_not_shown=0.0), seed + k)
        x, y = (k % cols) * tile, (k // cols) * (tile + cap)
        sheet.paste(Image.fromarray(ex.image).resize((tile, tile), Image.Resampling.LANCZOS), (x, y))
        draw.text((x + 2, y + tile + 1), f"{fam} {ex.record.text}", fill=(0, 0, 0), font=f)
    return sheet


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    sheet = contact_sheet(args.n, seed=args.seed)
    sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(args.out, optimize=True)
    print(args.out, sheet.size, np.asarray(sheet).shape)


if __name__ == "__main__":
    main()
