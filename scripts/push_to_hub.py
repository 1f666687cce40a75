"""Publish a trained model and its card to a Hugging Face model repository, in one commit.

    python scripts/push_to_hub.py --model models/model.skops --repo someone/digit-svc

Prints the commit SHA to pin in DIGIT_MODEL_REVISION.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from digit_core.errors import DigitCoreError
from digit_core.hub import publish_model


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="push_to_hub.py", description="Upload model.skops and its card to the Hub.")
    parser.add_argument("--model", type=Path, required=True, help="model file written by scripts/train.py")
    parser.add_argument("--repo", required=True, help="Hub model repository id, owner/name")
    parser.add_argument("--card", type=Path, default=None, help="model card (default: README.md beside the model)")
    parser.add_argument("--private", action="store_true", help="create the repository as private")
    return parser


def main(argv: list[str] | None = None, *, api=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        sha = publish_model(args.model, args.repo, api=api, card_path=args.card, private=args.private)
    except DigitCoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"uploaded {args.model.name} and README.md to {args.repo}")
    print(f"pin it with: DIGIT_MODEL_REPO={args.repo} DIGIT_MODEL_REVISION={sha}")
    print(sha)
    return 0


if __name__ == "__main__":
    sys.exit(main())
