"""MNIST from its IDX files, and folders of people's labelled drawings."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from PIL import Image

from digit_core.data import MNIST_FILES, file_md5, load_mnist_idx, read_idx
from digit_core.flags.dataset import label_from_filename, load_extra_folder
from digit_core.errors import DatasetError, InvalidLabelError
from tests.drawing import draw_on_canvas

PUBLISHED_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}


def test_mnist_files_match_the_published_checksums(mnist_dir):
    for name, md5 in PUBLISHED_MD5.items():
        assert file_md5(mnist_dir / name) == md5


def test_standard_split_is_60000_train_and_10000_test(mnist_train, mnist_test):
    assert mnist_train.images.shape == (60_000, 28, 28) and mnist_test.images.shape == (10_000, 28, 28)
    assert mnist_train.images.dtype == np.float32 and 0 <= mnist_train.images.min() and mnist_train.images.max() <= 1
    assert list(mnist_train.labels[:5]) == [5, 0, 4, 1, 9] and list(mnist_test.labels[:5]) == [7, 2, 1, 0, 4]


def test_uncompressed_idx_files_are_read_too(tmp_path, mnist_dir):
    for name in MNIST_FILES["test"]:
        (tmp_path / name.removesuffix(".gz")).write_bytes(gzip.decompress((mnist_dir / name).read_bytes()))
    assert len(load_mnist_idx(tmp_path, "test")) == 10_000


def test_idx_with_a_wrong_magic_number_is_refused(tmp_path):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(b"\x12\x34\x56\x78" + bytes(20))
    with pytest.raises(DatasetError, match="not an unsigned-byte IDX file"):
        read_idx(path)


def test_truncated_idx_is_refused(tmp_path, mnist_dir):
    data = gzip.decompress((mnist_dir / "t10k-labels-idx1-ubyte.gz").read_bytes())
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(data[:-10])
    with pytest.raises(DatasetError, match="its header"):
        read_idx(path)


def test_missing_mnist_folder_is_named(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_mnist_idx(tmp_path / "nowhere", "train")


@pytest.mark.parametrize("name, label", [("img_7_003.png", 7), ("0_first.png", 0), ("draw-9-x.png", 9)])
def test_label_is_the_single_digit_part_of_the_file_name(name, label):
    assert label_from_filename(name) == label


def test_file_name_without_a_digit_part_is_refused():
    with pytest.raises(InvalidLabelError, match="img_12_003.png"):
        label_from_filename("img_12_003.png")


def test_extra_folder_reads_both_layouts_and_reports_what_it_skips(tmp_path, mnist_test):
    drawings = [draw_on_canvas(mnist_test.images[i], digit_height=250, brush=20) for i in range(4)]
    labels = [int(mnist_test.labels[i]) for i in range(4)]
    flagged = tmp_path / "samples" / "writer"
    flagged.mkdir(parents=True)
    drawings[0].save(flagged / "a.png")
    drawings[1].save(flagged / "b.png")
    drawings[1].save(flagged / "orphan.png")  # not in metadata: ignored
    lines = [{"file_name": "a.png", "label": labels[0]}, {"file_name": "b.png", "label": labels[1]},
             {"file_name": "b.png", "label": labels[1]}, {"file_name": "gone.png", "label": 3}, {"label": 4}]
    (flagged / "metadata.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n{not json\n")
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    drawings[2].save(legacy / f"img_{labels[2]}_001.png")
    drawings[3].save(legacy / "unlabelled.png")
    (legacy / f"broken_{labels[3]}_.png").write_bytes(b"garbage")
    Image.new("L", (50, 50), 255).save(legacy / "blank_5_.png")

    extra = load_extra_folder(tmp_path)
    assert sorted(extra.labels.tolist()) == sorted([labels[0], labels[1], labels[2]])
    assert extra.duplicates == 1
    assert extra.images.shape == (3, 28, 28)
    skipped = " ".join(f"{where} {why}" for where, why in extra.skipped)
    for expected in ("gone.png", "unlabelled.png", "broken_", "blank_5_", "unreadable metadata line"):
        assert expected in skipped
    assert "orphan.png" not in skipped


def test_missing_extra_folder_is_named(tmp_path):
    with pytest.raises(DatasetError, match="nowhere"):
        load_extra_folder(tmp_path / "nowhere")


def test_a_flagged_sample_trains_on_the_frame_that_was_served(tmp_path, mnist_test):
    from digit_core.flags import FlagStore

    # The person corrected what the model saw: say, a digit read off a page with its ruled line
    # removed. Re-framing the stored image would bring the line back.
    drawing = draw_on_canvas(mnist_test.images[0], digit_height=250, brush=20)
    served = mnist_test.images[1]
    store = FlagStore(tmp_path)
    ids = [store.add(drawing, label=2, frame=served), store.add(drawing, label=7)]  # the second: no frame recorded
    store.review(ids, "accepted")
    extra = load_extra_folder(tmp_path)
    assert sorted(extra.labels.tolist()) == [2, 7]
    by_label = dict(zip(extra.labels.tolist(), extra.images))
    np.testing.assert_allclose(by_label[2], np.round(served * 255) / 255, atol=1e-6)
    assert np.corrcoef(by_label[7].ravel(), mnist_test.images[0].ravel())[0, 1] > 0.8


def test_a_flag_whose_image_is_missing_is_skipped_by_name(tmp_path, mnist_test):
    from digit_core.flags import FlagStore

    store = FlagStore(tmp_path)
    sample = store.add(draw_on_canvas(mnist_test.images[0], digit_height=250, brush=20), label=7, frame=mnist_test.images[0])
    store.review([sample], "accepted")
    next(tmp_path.rglob(f"{sample}.png")).unlink()
    extra = load_extra_folder(tmp_path)
    assert len(extra.labels) == 0 and "the image is missing" in extra.skipped[0][1]
