"""The cross-site yardstick, specified on real pen digits and cheques read from ../shared/real."""

from __future__ import annotations

import numpy as np
import pytest

import digit_core.cross_site as cross_site
from digit_core.cross_site import FoldRecipe, Tally, document_folds, letter_table_lines, read_site, site_folds, summary_rows, usps_uploads
from digit_core.errors import DatasetError
from digit_core.real_data import UNIPEN_HELD_OUT_SITES, document_key, load_labelled_set
from tests.conftest import REAL_DIR


def test_site_folds_leave_each_site_out_once(pen):
    folds = site_folds(pen.sources)
    assert sorted(site for fold in folds for site in fold) == sorted(set(pen.sources.tolist()))
    assert all(len(fold) == 1 for fold in folds) and len(folds) == 11


def test_site_folds_unknown_site_is_named(pen):
    with pytest.raises(DatasetError, match="sites \\['mars'\\] hold no pen digits"):
        site_folds(pen.sources, ["ced", "mars"])


def test_leave_one_site_out_reads_each_site_with_a_model_that_never_saw_it(pen, mnist_train, starter_model, monkeypatch):
    # Three sites, a few digits each: every model is trained (recorded here) on the others' frames only,
    # and reads only the site it was kept from.
    small = pen.subset(np.isin(pen.sources, ["pri", "art", "imp"]) & (np.arange(len(pen)) % 10 == 0))
    trained, read = [], []

    class Result:
        model = starter_model

    def fake_train(split, *, drawn, **options):
        trained.append(set(drawn.sources))
        return Result()

    def fake_read(model, pen_digits, site, **options):
        read.append((len(trained), site))
        return cross_site.SiteReading(Tally(site), Tally(site), Tally(site), Tally(site))

    monkeypatch.setattr(cross_site, "train_model", fake_train)
    monkeypatch.setattr(cross_site, "read_site", fake_read)
    pairs = cross_site.read_leave_one_site_out(small, mnist_train.head(100), recipe=FoldRecipe(mnist=100, pen_per_site=3), n_jobs=1)
    assert [p.digits.name for p in pairs] == ["art", "imp", "pri"]
    for (fold, site) in read:
        assert f"pen:{site}" not in trained[fold - 1]
        assert trained[fold - 1] == {f"pen:{s}" for s in ("art", "imp", "pri") if s != site}


def test_read_site_counts_right_refused_wrong_on_a_site_the_model_never_saw(pen, pen_letters, starter_model):
    digits, numbers, letters, scans = read_site(starter_model, pen, "imp", digits=30, numbers=4, letters=pen_letters, n_letters=30, scans=20)
    assert digits.n == 30 and numbers.n == 4 and letters.n == 30 and scans.n == 20
    assert scans.rate("right") >= 0.8
    assert digits.right + digits.refused + digits.wrong == 30
    assert digits.rate("right") >= 0.8
    # A letter is never read right: refused, or read as digits (with or without the note).
    assert letters.right == 0 and letters.refused + letters.wrong == 30 and letters.noted <= letters.wrong
    assert letters.rate("refused") >= 0.3  # 45.7% of 1,200 letters of the 4 sites
    assert "imp" in UNIPEN_HELD_OUT_SITES


def test_the_letter_table_puts_the_site_refusing_fewest_first_then_mean_and_worst():
    lines = letter_table_lines("letters", [Tally("a", refused=9, wrong=1), Tally("b", refused=5, wrong=5, noted=3), Tally("c", refused=1, wrong=3)])
    assert [line.split(" | ")[0] for line in lines[2:]] == ["| c (small)", "| b (small)", "| a (small)", "| mean", "| worst (c)"]
    assert lines[3] == "| b (small) | 10 | 50.00% | 30.00% | 20.00% |"


def test_summary_rows_put_the_worst_large_site_first_then_mean_and_worst():
    tallies = [Tally("a", 90, 5, 5), Tally("b", 80, 10, 10), Tally("tiny", 1, 0, 2)]
    rows = summary_rows(tallies)
    assert [r.name for r in rows] == ["tiny", "b", "a", "mean", "worst (b)"]
    assert rows[-1].rate("right") == pytest.approx(0.8)


def test_document_folds_keep_every_export_of_a_cheque_in_one_fold():
    cheques = load_labelled_set(REAL_DIR / "orand_car_a_train")
    keys = [document_key(item) for item in cheques.items]
    folds = document_folds(keys, k=5)
    by_key: dict = {}
    for key, fold in zip(keys, folds):
        by_key.setdefault(key, set()).add(int(fold))
    assert all(len(f) == 1 for f in by_key.values())
    assert set(folds.tolist()) == set(range(5))


def test_usps_uploads_turn_ink_dark_and_enlarge():
    with np.load(REAL_DIR / "usps_train.npz") as data:
        scans = data["images"][:3]
    uploads = usps_uploads(scans)
    assert uploads[0].size == (128, 128)
    assert np.asarray(uploads[0])[0, 0] == 255 - scans[0, 0, 0]


def test_usps_uploads_reject_other_arrays():
    with pytest.raises(DatasetError, match="uint8 array"):
        usps_uploads(np.zeros((2, 16, 16), np.float32))
