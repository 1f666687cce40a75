"""A yardstick that predicts strangers: every pen site read by a model that never saw its writers.

One fixed held-out split measures one set of writers; sites differ among themselves by several
points, so a change tuned on one split can look like progress and not be. Here:

- :func:`site_folds`: leave-one-site-out over the UNIPEN pen sites (or one fold holding given sites out).
- :func:`train_fold_model`: a small model per fold, trained the bundled recipe's way on an MNIST
  subset plus the *other* sites' pen digits drawn as canvas strokes (:class:`FoldRecipe`).
- :func:`read_site`: the held-out site's digits drawn on the 400x400 canvas one by one, numbers
  of 2-5 of them drawn on the 800x400 canvas, and its writers' letters drawn one by one, read as the
  app reads a drawing; each counted right / refused / wrong (:class:`Tally`), and a letter refused
  or read as a digit, with or without the note that it may not be one.
- :func:`document_folds` and :func:`read_cheques`: cheques in folds by document (amounts whole, and
  their boxed digits), and :func:`usps_uploads` / :func:`read_scans`: postal scans as an upload.

A reading is *refused* when the app answers "not a digit" or finds no digit at all; *wrong* when it
gives a digit string other than the truth.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from typing import NamedTuple
from dataclasses import dataclass, field

import numpy as np
from joblib import Parallel, delayed
from PIL import Image

from .augment import binary_scans
from .data import ExtraSamples, Split
from .errors import DatasetError, NoDigitFoundError
from .images import open_image
from .model import PROFILES, Profile
from .reading import Reading, read_digits
from .rejection import taught_letters
from .real_data import PEN_STYLES, LabelledSet, PenDigits, document_key, draw_pen_number, frame_pen_digits
from .strokes import draw_strokes
from .training import train_model

__all__ = [
    "Tally",
    "FoldRecipe",
    "site_folds",
    "draw_fold_training_digits",
    "train_fold_model",
    "SiteReading",
    "read_site",
    "read_leave_one_site_out",
    "document_folds",
    "ChequeReadings",
    "read_cheques",
    "usps_uploads",
    "read_scans",
    "summary_rows",
    "table_lines",
    "letter_table_lines",
    "SMALL_SITE",
]

#: Sites read fewer times than this are shown but not taken as the worst site: 7 digits say little.
SMALL_SITE = 20
#: The bundled starter's rejector learns this many letters per Hershey font (``Profile``); a fold
#: model trained on fewer MNIST images keeps the same count, so its "not a digit" is comparable.
_BUNDLED_MNIST = 60_000


@dataclass
class Tally:
    """Readings of one set counted right / refused / wrong, with each reading's confidence.

    Attributes
    ----------
    name : str
    right, refused, wrong : int
    noted : int
        Readings that gave digits with the note that a digit may not be one (counted in right or
        wrong too).
    confidences : list of float
        ``Reading.confidence`` of each reading that gave digits (for reliability diagrams).
    correct : list of bool
        Whether each of those readings was right.
    """

    name: str
    right: int = 0
    refused: int = 0
    wrong: int = 0
    confidences: list = field(default_factory=list)
    correct: list = field(default_factory=list)
    noted: int = 0

    @property
    def n(self) -> int:
        return self.right + self.refused + self.wrong

    def rate(self, verdict: str) -> float:
        """The fraction of readings with ``verdict`` ('right', 'refused', 'wrong' or 'noted'); 0 when empty."""
        return getattr(self, verdict) / self.n if self.n else 0.0

    def add(self, reading: Reading | None, label: str) -> bool:
        """Count one reading (None: no digit found) of an image whose truth is ``label`` (None: not a
        digit at all, so any digits read are wrong); True when right."""
        if reading is None or reading.refusal() is not None:
            self.refused += 1
            return False
        right = label is not None and reading.text == label
        self.right += right
        self.wrong += not right
        self.noted += any(digit.maybe_not_a_digit for digit in reading.digits)
        self.confidences.append(reading.confidence)
        self.correct.append(right)
        return right

    def merged(self, other: "Tally", name: str) -> "Tally":
        """This tally and ``other`` added together."""
        return Tally(name, self.right + other.right, self.refused + other.refused, self.wrong + other.wrong,
                     self.confidences + other.confidences, self.correct + other.correct, self.noted + other.noted)


@dataclass(frozen=True)
class FoldRecipe:
    """How each fold's small model is trained.

    Attributes
    ----------
    mnist : int
        MNIST training images (a fixed random subset, the same for every fold).
    pen_per_site : int
        Pen digits drawn per training site (all of a smaller site), each in every style of
        :data:`digit_core.real_data.PEN_STYLES`.
    pen : bool
        Train on the other sites' pen digits (the bundled recipe) or on MNIST alone.
    profile : str or Profile
        The recipe scaled down; its rejector still learns as many letters as the full-size one.
    """

    mnist: int = 2000
    pen_per_site: int = 150
    pen: bool = True
    profile: str | Profile = "compact"


def site_folds(sources: np.ndarray, held_out_together: Sequence[str] | None = None) -> list[tuple[str, ...]]:
    """The sites each fold holds out: one site per fold (leave-one-site-out), or one fold holding
    ``held_out_together`` out at once.

    Parameters
    ----------
    sources : ndarray of shape (n,), str
        The site of each pen digit.
    held_out_together : sequence of str, optional

    Raises
    ------
    DatasetError
        A site in ``held_out_together`` that no digit comes from.
    """
    sites = sorted(set(np.asarray(sources).tolist()))
    if held_out_together is None:
        return [(site,) for site in sites]
    unknown = sorted(set(held_out_together) - set(sites))
    if unknown:
        raise DatasetError(f"sites {unknown} hold no pen digits; the sites are {sites}.")
    return [tuple(held_out_together)]


def draw_fold_training_digits(pen: PenDigits, recipe: FoldRecipe, *, random_state: int = 0, n_jobs: int | None = None) -> dict:
    """Each site's training digits drawn once as canvas frames: ``{site: (frames, labels)}``.

    Up to ``recipe.pen_per_site`` digits of each site, drawn in every pen style and framed as the
    app frames a drawing (:func:`digit_core.real_data.frame_pen_digits`), so that a fold's training
    set is the other sites' entries.
    """
    rng = np.random.default_rng(random_state)
    drawn = {}
    for site in sorted(set(pen.sources.tolist())):
        where = np.flatnonzero(pen.sources == site)
        keep = np.zeros(len(pen), dtype=bool)
        keep[rng.choice(where, min(len(where), recipe.pen_per_site), replace=False)] = True
        drawn[site] = frame_pen_digits(pen.subset(keep), random_state=random_state, n_jobs=n_jobs)
    return drawn


def train_fold_model(mnist: Split, drawn: dict, held_out: Sequence[str], recipe: FoldRecipe, *, random_state: int = 0, n_jobs: int | None = 1):
    """A small model that never saw the sites ``held_out``.

    Parameters
    ----------
    mnist : Split
        MNIST training frames; the first ``recipe.mnist`` of a fixed permutation are used.
    drawn : dict
        :func:`draw_fold_training_digits`'s frames per site.
    held_out : sequence of str
        Sites left out of training.
    recipe : FoldRecipe

    Returns
    -------
    A calibrated model with its "not a digit" rejector (:func:`digit_core.training.train_model`).
    """
    pick = np.random.default_rng(random_state).permutation(len(mnist))[: recipe.mnist]
    subset = Split(mnist.images[pick], mnist.labels[pick])
    sites = [site for site in sorted(drawn) if site not in held_out] if recipe.pen else []
    pen = None
    if sites:
        frames = np.concatenate([drawn[site][0] for site in sites])
        labels = np.concatenate([drawn[site][1] for site in sites])
        pen = ExtraSamples(frames, labels, sources=[f"pen:{site}" for site in sites for _ in drawn[site][1]])
    profile = PROFILES[recipe.profile] if isinstance(recipe.profile, str) else recipe.profile
    letters = profile.rejector_letters_per_font * _BUNDLED_MNIST / max(len(subset), 1)
    profile = dataclasses.replace(profile, rejector_letters_per_font=int(np.ceil(letters)))
    return train_model(subset, profile=profile, drawn=pen, random_state=random_state, n_jobs=n_jobs).model


class SiteReading(NamedTuple):
    """One site read by a model that never saw it: its digits, its numbers, its letters and its
    digits as low-resolution binary scans."""

    digits: Tally
    numbers: Tally
    letters: Tally
    scans: Tally


def read_site(
    model,
    pen: PenDigits,
    site: str,
    *,
    digits: int,
    numbers: int,
    letters: PenDigits | None = None,
    n_letters: int = 0,
    scans: int = 0,
    random_state: int = 0,
) -> SiteReading:
    """One site's digits, numbers and letters read by ``model`` (which must never have seen the site).

    Parameters
    ----------
    model : estimator with ``predict_proba``
    pen : PenDigits
    site : str
    digits : int
        Digits of the site drawn one by one on the 400x400 canvas (all when the site has fewer),
        heights and brushes drawn from each of :data:`digit_core.real_data.PEN_STYLES` in turn.
    numbers : int
        Numbers of 2-5 of the site's digits drawn on the 800x400 canvas (as
        :func:`digit_core.real_data.write_pen_number_set` draws them).
    letters : PenDigits, optional
        Pen letters (:func:`digit_core.real_data.load_pen_letters`): ``n_letters`` of the site's,
        those taught as "not a digit" (:func:`digit_core.rejection.taught_letters`), drawn like its
        digits and read as the app reads a drawing. Each counts refused, or wrong (read as digits),
        and ``noted`` when read with the note that it may not be a digit.
    scans : int
        Digits of the site written with a pen 0.10-0.20 of their height wide, scanned as 16x16
        binary images stretched to fill the box (:func:`digit_core.augment.binary_scans`, as the
        Semeion set was made) and uploaded enlarged x8 or x16, dark on white.

    Returns
    -------
    SiteReading
        Tallies all named ``site``.
    """
    rng = np.random.default_rng(random_state)
    where = np.flatnonzero(pen.sources == site)
    singles, several, others, scanned = Tally(site), Tally(site), Tally(site), Tally(site)

    def on_canvas(samples: PenDigits, index: int, k: int) -> np.ndarray:
        # One sample drawn on the 400x400 canvas in the k-th style, in turn.
        style = PEN_STYLES[k % len(PEN_STYLES)]
        return draw_strokes(samples.strokes(int(index)), height=rng.uniform(*style.height), brush=rng.uniform(*style.brush))

    for k, index in enumerate(rng.choice(where, min(digits, len(where)), replace=False)):
        singles.add(_read_or_none(model, on_canvas(pen, index, k)), str(pen.labels[index]))
    for _ in range(numbers if len(where) >= 2 else 0):
        indices = rng.choice(where, min(len(where), int(rng.integers(2, 6))), replace=False)
        drawing = draw_pen_number(pen, indices, height=rng.uniform(100, 220), brush=rng.uniform(12, 24),
                                  gaps=rng.uniform(0.1, 0.5, len(indices) - 1))
        several.add(_read_or_none(model, drawing), "".join(str(pen.labels[i]) for i in indices))
    if letters is not None and n_letters > 0:
        site_letters = np.flatnonzero((letters.sources == site) & taught_letters(letters.labels))
        for k, index in enumerate(rng.choice(site_letters, min(n_letters, len(site_letters)), replace=False)):
            others.add(_read_or_none(model, on_canvas(letters, index, k)), None)
    for k, index in enumerate(rng.choice(where, min(scans, len(where)), replace=False)):
        height = rng.uniform(150, 300)
        drawing = draw_strokes(pen.strokes(int(index)), height=height, brush=height * rng.uniform(0.10, 0.20))
        scan = binary_scans(drawing[None, ..., 3] / 255.0, side=16).astype(np.uint8) * 255  # ink bright, as a scan array
        scanned.add(_read_or_none(model, usps_uploads(scan, scale=(8, 16)[k % 2])[0]), str(pen.labels[index]))
    return SiteReading(singles, several, others, scanned)


def read_leave_one_site_out(
    pen: PenDigits,
    mnist: Split,
    *,
    recipe: FoldRecipe = FoldRecipe(),
    digits: int = 100,
    numbers: int = 20,
    letters: PenDigits | None = None,
    n_letters: int = 0,
    scans: int = 0,
    held_out_together: Sequence[str] | None = None,
    model=None,
    random_state: int = 0,
    n_jobs: int = 2,
) -> list[SiteReading]:
    """Every site's digits, numbers, letters (``n_letters`` of ``letters``) and digits scanned
    (``scans``), each read by a model trained without it (:func:`read_site`).

    One small model per fold (:func:`site_folds`, :func:`train_fold_model`), folds run ``n_jobs`` at
    a time; with ``model`` given, that model reads the sites instead (it must never have seen them:
    give ``held_out_together``, the sites it was kept from). Returns one :class:`SiteReading` per
    site, in site order.
    """
    folds = site_folds(pen.sources, held_out_together)
    reading = dict(digits=digits, numbers=numbers, letters=letters, n_letters=n_letters, scans=scans)
    if model is None:
        # Only sites that some fold trains on are drawn (all of them when leaving one out at a time).
        trains = ~np.isin(pen.sources, held_out_together) if held_out_together is not None else np.ones(len(pen), bool)
        drawn = draw_fold_training_digits(pen.subset(trains), recipe, random_state=random_state, n_jobs=n_jobs)
        run = delayed(_train_and_read)
        jobs = (run(mnist, drawn, fold, recipe, pen, reading, random_state) for fold in folds)
        parts = Parallel(n_jobs=n_jobs)(jobs)
    else:
        parts = [[read_site(model, pen, site, **reading, random_state=random_state) for site in fold] for fold in folds]
    return [site for part in parts for site in part]


def _train_and_read(mnist, drawn, fold, recipe, pen, reading, random_state):
    model = train_fold_model(mnist, drawn, fold, recipe, random_state=random_state)
    return [read_site(model, pen, site, **reading, random_state=random_state) for site in fold]


def _read_or_none(model, image, *, single: bool = False) -> Reading | None:
    try:
        return read_digits(model, image, single=single)
    except NoDigitFoundError:
        return None


def document_folds(keys: Sequence[str], *, k: int = 5, salt: str = "digit-document-folds") -> np.ndarray:
    """The fold (0 .. k-1) of each document, shape (n,): a hash of its key decides, so every image of
    one document falls in one fold, the same on every machine."""
    digests = (hashlib.sha256(f"{salt}:{key}".encode()).digest() for key in keys)
    return np.array([int.from_bytes(d[:8], "big") % k for d in digests], dtype=int)


@dataclass
class ChequeReadings:
    """Cheques read whole and digit by digit, one fold at a time.

    Attributes
    ----------
    amounts, digits : list of Tally
        One per fold (named ``fold <i>``).
    readings : list of tuple of ReadDigit
        The digits of each amount read (not refused).
    correct : ndarray of shape (n_read,), bool
    folds : ndarray of shape (n_read,), int
        The fold of each of those amounts.
    """

    amounts: list
    digits: list
    readings: list
    correct: np.ndarray
    folds: np.ndarray


def read_cheques(model, cheques: LabelledSet, *, k: int = 5, key: Callable | None = None) -> ChequeReadings:
    """Read every cheque amount (segmentation on, exact string) and each of its boxed digits (cut out
    by its box, read as one digit), counted per document fold (:func:`document_folds`).

    ``key`` names an item's document (default :func:`digit_core.real_data.document_key`).
    """
    folds = document_folds([(key or document_key)(item) for item in cheques.items], k=k)
    amounts = [Tally(f"fold {i}") for i in range(k)]
    digits = [Tally(f"fold {i}") for i in range(k)]
    readings, correct, read_folds = [], [], []
    for item, fold in zip(cheques.items, folds):
        image = open_image(item.path)
        reading = _read_or_none(model, image)
        right = amounts[fold].add(reading, item.label)
        if reading is not None and reading.refusal() is None:
            readings.append(reading.digits)
            correct.append(right)
            read_folds.append(fold)
        for (x, y, w, h), digit in zip(item.boxes or (), item.label):
            digits[fold].add(_read_or_none(model, image.crop((x, y, x + w, y + h)), single=True), digit)
    return ChequeReadings(amounts, digits, readings, np.array(correct, dtype=bool), np.array(read_folds, dtype=int))


def usps_uploads(images: np.ndarray, *, scale: int = 8) -> list[Image.Image]:
    """Postal scans as a person would upload them: ink turned dark on light paper, enlarged
    ``scale`` times with nearest-neighbour (a 16x16 scan becomes 128x128).

    Parameters
    ----------
    images : ndarray of shape (n, h, w), uint8
        Ink bright on dark (the layout of ``usps_train.npz``).
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DatasetError(f"scans must be an (n, h, w) uint8 array; got shape {images.shape} and dtype {images.dtype}.")
    size = (images.shape[2] * scale, images.shape[1] * scale)
    return [Image.fromarray(255 - scan, "L").resize(size, Image.Resampling.NEAREST) for scan in images]


def read_scans(model, uploads: Sequence[Image.Image], labels: np.ndarray, *, name: str = "usps") -> tuple[Tally, int]:
    """Scans read as uploads (segmentation on): the tally, and how many single scans were read as
    more than one digit."""
    tally, split = Tally(name), 0
    for upload, label in zip(uploads, labels):
        reading = _read_or_none(model, upload)
        tally.add(reading, str(int(label)))
        split += reading is not None and len(reading.digits) > 1
    return tally, split


def summary_rows(tallies: Sequence[Tally]) -> list[Tally]:
    """``tallies`` worst first (by the fraction read right), then a ``mean`` row (the unweighted mean
    of the sites' rates, as counts per 10,000) and a ``worst`` row (the worst site of at least
    :data:`SMALL_SITE` readings)."""
    ordered = sorted(tallies, key=lambda t: (t.rate("right"), -t.n))
    large = [t for t in ordered if t.n >= SMALL_SITE] or ordered
    if not ordered:
        return []
    mean = Tally("mean", *(round(10_000 * float(np.mean([t.rate(v) for t in ordered]))) for v in ("right", "refused", "wrong")))
    worst = dataclasses.replace(large[0], name=f"worst ({large[0].name})")
    return [*ordered, mean, worst]


def table_lines(title: str, tallies: Sequence[Tally]) -> list[str]:
    """A markdown table of ``tallies`` (as :func:`summary_rows` orders them): n, right, refused, wrong."""
    lines = [f"| {title} | n | right | refused | wrong |", "| --- | --- | --- | --- | --- |"]
    for tally in summary_rows(tallies):
        n = "-" if tally.name == "mean" else str(tally.n)
        small = " (small)" if tally.n < SMALL_SITE and tally.name != "mean" else ""
        lines.append(f"| {tally.name}{small} | {n} | {tally.rate('right'):.2%} | {tally.rate('refused'):.2%} | {tally.rate('wrong'):.2%} |")
    return lines


def letter_table_lines(title: str, tallies: Sequence[Tally]) -> list[str]:
    """A markdown table of letter tallies (:func:`read_site`'s ``letters``), the site refusing the
    fewest first, then the mean of the sites and the worst site (of at least :data:`SMALL_SITE`):
    n, refused, read as digits with the note, read as digits without it."""
    def rates(tally: Tally) -> tuple[float, float, float]:
        return tally.rate("refused"), tally.rate("noted"), tally.rate("wrong") - tally.rate("noted")

    lines = [f"| {title} | n | refused | noted | read as digits |", "| --- | --- | --- | --- | --- |"]
    ordered = sorted((t for t in tallies if t.n), key=lambda t: (t.rate("refused"), -t.n))
    rows = [(t.name + (" (small)" if t.n < SMALL_SITE else ""), str(t.n), *rates(t)) for t in ordered]
    if ordered:
        worst = ([t for t in ordered if t.n >= SMALL_SITE] or ordered)[0]
        rows.append(("mean", "-", *np.mean([rates(t) for t in ordered], axis=0)))
        rows.append((f"worst ({worst.name})", str(worst.n), *rates(worst)))
    return lines + [f"| {name} | {n} | {refused:.2%} | {noted:.2%} | {plain:.2%} |" for name, n, refused, noted, plain in rows]
