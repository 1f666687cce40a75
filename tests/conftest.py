"""Shared fixtures: real MNIST subsets from ../shared/mnist and a small model trained on them."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from digit_core.data import load_mnist_idx
from digit_core.model import PROFILES
from digit_core.persistence import load_model
from digit_core.training import train_model

ROOT = Path(__file__).resolve().parent.parent
MNIST_DIR = Path(os.environ.get("DIGIT_MNIST_DIR", ROOT.parent / "shared" / "mnist"))
#: Real handwriting by people MNIST never had, read in place (never copied into the project).
REAL_DIR = ROOT.parent / "shared" / "real"


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    if not (MNIST_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.fail(f"MNIST IDX files not found in {MNIST_DIR}; set DIGIT_MNIST_DIR to the folder that holds them.")
    return MNIST_DIR


def real_file(name: str) -> Path:
    """A file of ../shared/real, or a failure that says where the real handwriting belongs."""
    path = REAL_DIR / name
    if not path.is_file():
        pytest.fail(f"{path} not found: the real handwriting lives in ../shared/real beside the checkout.")
    return path


@pytest.fixture(scope="session")
def pen():
    """UNIPEN pen trajectories: 9,054 digits by writers at 11 sites."""
    from digit_core.real_data import load_pen_digits

    return load_pen_digits(real_file("unipen_dev.npz"))


@pytest.fixture(scope="session")
def pen_letters():
    """UNIPEN pen letters: 32,065 by writers of the same 11 sites."""
    from digit_core.real_data import load_pen_letters

    return load_pen_letters(real_file("unipen_letters_dev.npz"))


@pytest.fixture(scope="session")
def held_out_pen(pen):
    """The pen digits of the sites no model trains on: other writers."""
    from digit_core.real_data import UNIPEN_HELD_OUT_SITES

    return pen.subset(np.isin(pen.sources, UNIPEN_HELD_OUT_SITES))


@pytest.fixture(scope="session")
def mnist_train(mnist_dir):
    return load_mnist_idx(mnist_dir, "train")


@pytest.fixture(scope="session")
def mnist_test(mnist_dir):
    return load_mnist_idx(mnist_dir, "test")


@pytest.fixture(scope="session")
def small_profile():
    """The compact recipe without pen-redrawn copies, with a small calibration split and no "not a
    digit" rejector: trains in seconds."""
    return replace(
        PROFILES["compact"],
        name="compact",
        augmentation=replace(PROFILES["compact"].augmentation, redrawn=()),
        calibration_size=500,
        rejector_letters_per_font=0,
    )


@pytest.fixture(scope="session")
def small_model(mnist_train, small_profile):
    """A model trained on the first 4,000 MNIST training images."""
    return train_model(mnist_train.head(4000), profile=small_profile, n_jobs=1).model


@pytest.fixture(scope="session")
def starter_model():
    from digit_core.config import STARTER_MODEL_PATH

    return load_model(STARTER_MODEL_PATH)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """The real app on 127.0.0.1 (a free port), serving the starter model; yields (url, flag folder)."""
    import app as digit_app
    from digit_core.hub import resolve_model

    flag_dir = tmp_path_factory.mktemp("flags")
    from digit_core.flags import FlagGate

    # Every test shares this server from one address: a rate limit that never bites here (the
    # limit itself is specified in test_app.py on a server of its own).
    gate = FlagGate(burst=100_000, per_minute=100_000)
    demo = digit_app.build_app(resolve_model(model_path=None, repo_id=None), flag_dir=flag_dir, flag_gate=gate)
    demo.queue(default_concurrency_limit=digit_app.CONCURRENCY, max_size=256)
    _, url, _ = demo.launch(
        css=digit_app.PAGE_CSS,
        head=digit_app.PAGE_HEAD,
        server_name="127.0.0.1",
        prevent_thread_lock=True,
        quiet=True,
        max_file_size=digit_app.config.MAX_UPLOAD_BYTES,
        mcp_server=True,
    )
    yield url, flag_dir
    demo.close()


def pytest_collection_modifyitems(items):
    """Every test served by the real app (the ``app_server`` fixture starts it) is ``slow``."""
    for item in items:
        if "app_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
