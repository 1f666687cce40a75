"""The bar for drawings: MNIST test digits redrawn on a 400x400 canvas are read as well as the originals."""

from __future__ import annotations

import numpy as np
import pytest

from digit_core.framing import to_mnist_frame
from digit_core.inference import predict_proba
from tests.drawing import draw_on_canvas

N_DIGITS = 1000


@pytest.mark.slow
def test_drawn_digits_are_read_within_half_a_point_of_the_originals(starter_model, mnist_test):
    rng = np.random.default_rng(2026)
    index = rng.choice(len(mnist_test), N_DIGITS, replace=False)
    frames = []
    for i in index:
        height = int(rng.integers(100, 300))  # the digit's 20 px box, on the 400 px canvas
        frames.append(
            to_mnist_frame(
                draw_on_canvas(
                    mnist_test.images[i],
                    digit_height=height,
                    brush=float(rng.uniform(3, height / 5)),  # hairline to fat brush
                    centre=(int(rng.integers(0, 400)), int(rng.integers(0, 400))),
                    background=str(rng.choice(["transparent", "white"])),
                )
            )
        )
    labels = mnist_test.labels[index]
    original = (predict_proba(starter_model, mnist_test.images[index]).argmax(1) == labels).mean()
    drawn = (predict_proba(starter_model, np.stack(frames)).argmax(1) == labels).mean()
    print(f"originals {original:.2%}, drawn {drawn:.2%} on {N_DIGITS} digits")
    assert drawn >= original - 0.005
