"""Draws the sample images in samples/ with pen strokes (nothing from MNIST). Run from the project root."""
import numpy as np
from PIL import Image, ImageDraw, ImageFilter
def pen(draw, points, width, arc=None):
    draw.line(points, fill=(30, 30, 60), width=width, joint="curve")
    for x, y in (points[0], points[-1]):
        draw.ellipse([x - width / 2, y - width / 2, x + width / 2, y + width / 2], fill=(30, 30, 60))
def glyph(draw, digit, x, y, h, w):
    s = h / 100.0
    P = lambda a, b: (x + a * s, y + b * s)
    if digit == "7":
        pen(draw, [P(5, 8), P(58, 5), P(25, 100)], w)
    elif digit == "1":
        pen(draw, [P(15, 25), P(38, 2), P(34, 100)], w)
    elif digit == "0":
        draw.ellipse([*P(2, 2), *P(58, 100)], outline=(30, 30, 60), width=w)
    elif digit == "4":
        pen(draw, [P(30, 0), P(2, 65), P(62, 65)], w); pen(draw, [P(46, 30), P(44, 100)], w)
    elif digit == "3":
        draw.arc([*P(5, 0), *P(55, 50)], -160, 90, fill=(30, 30, 60), width=w)
        draw.arc([*P(0, 45), *P(60, 100)], -90, 150, fill=(30, 30, 60), width=w)
    elif digit == "2":
        draw.arc([*P(5, 0), *P(58, 55)], -170, 30, fill=(30, 30, 60), width=w); pen(draw, [P(55, 35), P(3, 100), P(62, 98)], w)
rng = np.random.default_rng(1)
# A number on paper, photographed: uneven light, a little blur, JPEG-like noise.
page = Image.new("RGB", (900, 300), (236, 232, 220))
draw = ImageDraw.Draw(page)
x = 90
for d in "2047":
    glyph(draw, d, x, 80 + int(rng.integers(-12, 12)), 150, 14)
    x += 170
shade = np.linspace(1.0, 0.78, 900)[None, :, None]
arr = np.asarray(page.filter(ImageFilter.GaussianBlur(1.2))).astype(float) * shade + rng.normal(0, 4, (300, 900, 3))
Image.fromarray(np.uint8(np.clip(arr, 0, 255))).save("samples/number.jpg", quality=85)
# A single digit drawn on a transparent canvas, as the sketchpad sends it.
canvas = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
glyph(ImageDraw.Draw(canvas), "7", 120, 70, 260, 22)
canvas.save("samples/seven.png")
