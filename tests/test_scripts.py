"""The command-line scripts, called in-process through main(argv), on real files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from skimage.feature import hog as skimage_hog

from digit_core.card import read_card_facts
from digit_core.data import file_md5
from digit_core.persistence import load_model
from tests.conftest import ROOT
from tests.drawing import draw_on_canvas, encode, number_strip
from tests.script_runner import load_script

benchmark, evaluate, flags, predict, push_to_hub, train = (
    load_script(name) for name in ("benchmark", "evaluate", "flags", "predict", "push_to_hub", "train")
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mnist_dir):
    out = tmp_path_factory.mktemp("trained")
    status = train.main(["--profile", "compact", "--mnist", str(mnist_dir), "--out", str(out), "--limit", "2000", "--test-limit", "500", "--n-jobs", "1"])
    assert status == 0
    return out


@pytest.mark.slow
def test_train_writes_model_card_report_and_pictures(trained, capsys):
    for name in ("model.skops", "README.md", "evaluation.json", "confusion_matrix.png", "misclassified.png"):
        assert (trained / name).is_file(), name
    report = json.loads((trained / "evaluation.json").read_text())
    assert report["n"] == 500 and report["accuracy"] > 0.9
    facts = read_card_facts(trained / "README.md")
    assert facts["command"].startswith("python scripts/train.py --profile compact")
    assert set(facts["seconds"]) == {"split", "augment", "fit", "calibrate", "reject", "evaluate"}
    assert facts["data_md5"]["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    load_model(trained / "model.skops")


@pytest.mark.slow
def test_train_with_pen_digits_credits_them_in_the_card_with_their_checksum(mnist_dir, tmp_path, capsys):
    pen = ROOT.parent / "shared" / "real" / "unipen_dev.npz"
    argv = ["--mnist", str(mnist_dir), "--pen", str(pen), "--pen-limit", "200", "--out", str(tmp_path),
            "--limit", "1000", "--test-limit", "100", "--n-jobs", "1"]
    assert train.main(argv) == 0
    out = capsys.readouterr().out
    assert "pen digits: 200 from sites" in out and "(held out: ced, app, aga, imp)" in out
    facts = read_card_facts(tmp_path / "README.md")
    assert facts["n_pen"] == 400 and facts["pen_held_out"] == ["ced", "app", "aga", "imp"]
    assert facts["data_md5"]["unipen_dev.npz"] == file_md5(pen)
    card = (tmp_path / "README.md").read_text()
    assert "UNIPEN" in card and "CC BY 4.0" in card and "400 canvas drawings of real" in card


@pytest.mark.slow
def test_train_prints_the_wall_time_of_each_stage(mnist_dir, tmp_path, capsys):
    train.main(["--mnist", str(mnist_dir), "--out", str(tmp_path), "--limit", "600", "--test-limit", "100", "--n-jobs", "1"])
    out = capsys.readouterr().out
    for stage in ("split", "augment", "fit", "calibrate", "evaluate"):
        assert f"stage {stage}" in out


def test_train_with_a_missing_mnist_folder_says_so(tmp_path, capsys):
    assert train.main(["--mnist", str(tmp_path / "nowhere"), "--out", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_evaluate_ends_with_a_json_line(trained, mnist_dir, tmp_path, capsys):
    argv = ["--model", str(trained / "model.skops"), "--mnist", str(mnist_dir), "--limit", "300", "--canvas", "40", "--out", str(tmp_path)]
    assert evaluate.main(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(out[-1])
    assert set(summary) == {"accuracy", "ece", "n", "sets"} and summary["n"] == 300
    assert summary["sets"][0]["set"] == "mnist_canvas" and summary["sets"][0]["n"] == 40
    assert any(line.startswith("digit  precision  recall") for line in out)
    assert (tmp_path / "confusion_matrix.png").is_file() and (tmp_path / "misclassified.png").is_file()


def test_evaluate_a_labelled_set_prints_accuracy_recall_and_the_baseline_and_draws_the_misreadings(tmp_path, capsys):
    from digit_core.real_data import LabelledSet, load_labelled_set

    cheques = load_labelled_set(ROOT.parent / "shared" / "real" / "orand_car_a_train")
    amounts = LabelledSet(cheques.folder, cheques.items[:6])
    crops = evaluate.write_crop_set(amounts, tmp_path / "crops")
    numbers = tmp_path / "numbers"
    numbers.mkdir()
    (numbers / "labels.csv").write_text(
        "file,label,boxes\n" + "".join(f'{item.path},{item.label},"{list(map(list, item.boxes))}"\n' for item in amounts.items)
    )
    status = evaluate.main(["--set", str(tmp_path / "crops"), "--set", str(numbers), "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out.strip().splitlines()
    assert status == 0
    summary = json.loads(out[-1])["sets"]
    assert [s["set"] for s in summary] == ["crops", "numbers"]
    assert summary[0]["kind"] == "digits" and summary[0]["n"] == len(crops) and 0 <= summary[0]["baseline_accuracy"] <= 1
    assert summary[1]["kind"] == "numbers" and summary[1]["n"] == 6 and "segmentation_iou50" in summary[1]
    assert any(line.startswith("crops: ") and "(textbook framing: " in line for line in out)
    assert any(line.strip().startswith("recall 0:") for line in out)
    for name in ("crops_confusion.png", "crops_misread.png", "numbers_confusion.png", "numbers_misread.png"):
        assert (tmp_path / "out" / name).is_file(), name


def test_evaluate_cross_site_prints_sites_worst_first_scans_cheques_and_reliability_diagrams(tmp_path, capsys):
    # The held-out sites read by the starter itself (it never saw them), a few of each, to stay fast.
    real = ROOT.parent / "shared" / "real"
    argv = ["--cross-site", str(real), "--fold-sites", "imp,aga", "--read-with-model", "--per-site", "6", "--numbers-per-site", "2",
            "--usps", "5", "--cheque-folds", "2", "--limit", "6", "--out", str(tmp_path)]
    assert evaluate.main(argv) == 0
    out = capsys.readouterr().out
    assert "| site: single digits drawn | n | right | refused | wrong |" in out and "| mean |" in out and "| worst (" in out
    assert "amounts >= 0.9 sure (cross_fitted confidence)" in out
    result = json.loads(out.strip().splitlines()[-1])
    assert set(result["sites"]) == {"imp", "aga"} and result["usps"]["n"] == 5
    for name in ("drawn_digits", "drawn_numbers", "usps", "amounts_cross_fitted"):
        assert (tmp_path / f"reliability_{name}.png").is_file(), name


def test_evaluate_read_with_model_needs_the_sites_it_never_saw(capsys):
    assert evaluate.main(["--cross-site", str(ROOT.parent / "shared" / "real"), "--read-with-model"]) == 2
    assert "name them with --fold-sites" in capsys.readouterr().err


def test_evaluate_a_set_without_labels_says_what_it_expects(tmp_path, capsys):
    assert evaluate.main(["--set", str(tmp_path)]) == 2
    assert "expected a CSV with columns file,label[,boxes]" in capsys.readouterr().err


def test_predict_reads_a_number_a_single_digit_and_reports_a_bad_file(mnist_test, tmp_path, capsys, rng):
    number = tmp_path / "number.png"
    number.write_bytes(encode(number_strip([mnist_test.images[i] for i in (1, 2, 3)], rng=rng)))
    digit = tmp_path / "seven.png"
    draw_on_canvas(mnist_test.images[0], digit_height=260, brush=20).save(digit)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n nothing more")
    status = predict.main(["--json", str(number), str(broken), str(digit)])
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert status == 1
    assert lines[0] == {"file": str(number), "digits": "210", "confidence": lines[0]["confidence"]}
    assert lines[1]["file"] == str(broken) and "corrupt" in lines[1]["error"]
    assert lines[2]["digits"] == "7"
    assert predict.main(["--single", "--json", str(digit)]) == 0
    assert json.loads(capsys.readouterr().out)["digits"] == "7"


@pytest.mark.parametrize("script", [train, evaluate, predict, push_to_hub, flags, benchmark])
def test_every_script_has_help_and_is_in_the_readme(script, capsys):
    with pytest.raises(SystemExit) as exit_info:
        script.main(["--help"])
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out
    name = script.__name__.removeprefix("scripts_")
    assert f"scripts/{name}.py" in (ROOT / "README.md").read_text()


@pytest.mark.slow
def test_benchmark_prints_every_figure_as_json(mnist_dir, capsys):
    argv = ["--mnist", str(mnist_dir), "--single", "30", "--batch", "200", "--train", "200", "--app", "--clients", "2", "--requests", "2"]
    assert benchmark.main(argv) == 0
    figures = json.loads(capsys.readouterr().out)
    assert {"p50_ms", "p99_ms"} <= set(figures["single_image_latency"]) and figures["single_image_latency"]["n"] == 30
    assert figures["batch_throughput"]["n"] == 200 and figures["model_load_seconds"] > 0
    assert figures["photo_12mp"]["digits"] == "72104"
    assert figures["preprocessing_vs_seed"]["rows_after_augmentation"] == 200 * 11
    assert figures["app"]["errors"] == 0 and figures["app"]["cold_start_seconds"] > 0
    assert figures["peak_memory_megabytes"] > 0


@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-7), (np.float32, 1e-5)])
@pytest.mark.parametrize("cells, block", [((8, 8), (2, 2)), ((4, 4), (2, 2)), ((7, 7), (1, 1))])
def test_benchmark_batch_hog_equals_scikit_image_hog_for_every_image(mnist_test, dtype, tolerance, cells, block):
    images = mnist_test.images[:40].astype(dtype)
    ours = benchmark.hog_batch(images, pixels_per_cell=cells, cells_per_block=block)
    reference = np.stack([skimage_hog(image, pixels_per_cell=cells, cells_per_block=block) for image in images])
    assert ours.dtype == dtype
    np.testing.assert_allclose(ours, reference, atol=tolerance)


def test_benchmark_hog_energy_moves_to_the_perpendicular_bin_when_the_image_turns_90_degrees():
    stripes = np.zeros((1, 32, 32))
    stripes[0, :, ::4] = 1.0  # vertical stripes: horizontal gradients (0 degrees)
    turned = np.rot90(stripes, axes=(1, 2))
    options = dict(orientations=4, pixels_per_cell=(8, 8), cells_per_block=(1, 1))
    energy = benchmark.hog_batch(stripes, **options).reshape(-1, 4).sum(axis=0)
    energy_turned = benchmark.hog_batch(turned, **options).reshape(-1, 4).sum(axis=0)
    assert energy.argmax() == 0 and energy_turned.argmax() == 2
