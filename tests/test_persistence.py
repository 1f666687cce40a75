"""Saving and loading models: skops with a fixed trusted list, never pickle."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
import skops.io as sio
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from digit_core.card import read_card_facts
from digit_core.config import STARTER_MODEL_PATH
from digit_core.errors import ModelLoadError, UntrustedModelError
from digit_core.inference import predict_proba
from digit_core.persistence import load_model, save_model
from tests.conftest import ROOT


@pytest.mark.slow
def test_save_then_load_gives_identical_predictions(small_model, mnist_test, tmp_path):
    frames = mnist_test.images[:300]
    loaded = load_model(save_model(small_model, tmp_path / "model.skops"))
    trained, first = predict_proba(small_model, frames), predict_proba(loaded, frames)
    np.testing.assert_array_equal(first.argmax(axis=1), trained.argmax(axis=1))
    # Loading lays arrays out contiguously, which can change float sums in the last digits once.
    np.testing.assert_allclose(first, trained, atol=1e-6)
    reloaded = load_model(save_model(loaded, tmp_path / "again.skops"))
    np.testing.assert_array_equal(predict_proba(reloaded, frames), first)


def test_a_file_holding_another_type_is_refused_and_the_type_named(tmp_path):
    path = tmp_path / "model.skops"
    sio.dump(Pipeline([("run", FunctionTransformer(os.system))]), path)
    with pytest.raises(UntrustedModelError, match=r"system"):
        load_model(path)


def test_saving_a_model_with_an_untrusted_type_writes_nothing(tmp_path):
    with pytest.raises(UntrustedModelError, match="TRUSTED_TYPES"):
        save_model(FunctionTransformer(os.system), tmp_path / "model.skops")
    assert list(tmp_path.iterdir()) == []


def test_missing_and_corrupt_files_are_named(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(tmp_path / "nothing.skops")
    corrupt = tmp_path / "corrupt.skops"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ModelLoadError, match="not a readable skops model file"):
        load_model(corrupt)
    pickled = tmp_path / "pickled.skops"
    with zipfile.ZipFile(pickled, "w") as archive:
        archive.writestr("schema.json", "{}")
    with pytest.raises(ModelLoadError):
        load_model(pickled)


@pytest.mark.slow
def test_saved_model_loads_and_predicts_without_scikit_learn_intelex(mnist_test):
    script = textwrap.dedent(
        f"""
        import sys, importlib.abc
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in ("sklearnex", "daal4py", "onedal"):
                    raise ImportError("scikit-learn-intelex is not installed here")
        sys.meta_path.insert(0, Block())
        import numpy as np
        from digit_core.data import load_mnist_idx
        from digit_core.persistence import load_model
        from digit_core.inference import predict_proba
        model = load_model({str(STARTER_MODEL_PATH)!r})
        test = load_mnist_idx({str(ROOT.parent / "shared" / "mnist")!r}, "test").head(500)
        accuracy = (predict_proba(model, test.images).argmax(1) == test.labels).mean()
        assert "sklearnex" not in sys.modules
        print(accuracy)
        """
    )
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=environment)
    assert float(result.stdout.strip()) > 0.99


def test_starter_model_is_small_and_carries_its_card():
    assert STARTER_MODEL_PATH.stat().st_size <= 9 * 1024 * 1024
    facts = read_card_facts(STARTER_MODEL_PATH.with_name("README.md"))
    assert facts["profile"] == "compact"
    assert facts["accuracy"] >= 0.993 and facts["ece"] <= 0.02 and facts["n_test"] == 10_000
    card = STARTER_MODEL_PATH.with_name("README.md").read_text()
    assert "model-index:" in card and "ylecun/mnist" in card and "train-images-idx3-ubyte.gz" in card


def test_a_model_file_that_would_unpack_to_a_huge_schema_is_refused_before_unpacking(tmp_path):
    path = tmp_path / "bomb.skops"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("schema.json", "w", force_zip64=True) as member:
            chunk = b" " * (1 << 20)
            for _ in range(200):  # 200 MB of spaces, a few hundred KB on disk
                member.write(chunk)
    assert path.stat().st_size < 2_000_000
    with pytest.raises(ModelLoadError, match=r"would unpack to 210 MB \(schema.json 210 MB\).*It was not loaded"):
        load_model(path)
