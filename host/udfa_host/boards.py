"""Runs on the PC: reads the board profiles, plain JSON files in boards/ (one per target)."""
import json
import os
from pathlib import Path

# host/udfa_host/boards.py -> the repository's boards/ folder, two levels above the package.
_REPO_BOARDS = Path(__file__).resolve().parent.parent.parent / "boards"


class ProfileError(LookupError):
    """An unknown or unreadable board profile."""


def boards_dir():
    """The folder of profiles: $UDFA_BOARDS_DIR if set (an installed, non-editable package has
    no repository beside it), else the repository's boards/."""
    env = os.environ.get("UDFA_BOARDS_DIR")
    folder = Path(env) if env else _REPO_BOARDS
    if not folder.is_dir():
        raise ProfileError(
            "no board profiles at %s: set UDFA_BOARDS_DIR to the repository's boards/ folder"
            % folder
        )
    return folder


def list_profiles():
    """Names of the available profiles, sorted."""
    return sorted(p.stem for p in boards_dir().glob("*.json"))


def load_profile(name):
    """The profile NAME as a dict (see boards/*.json for the fields)."""
    path = boards_dir() / (name + ".json")
    if not path.is_file():
        raise ProfileError(
            "unknown board profile %r: available: %s (files in %s)"
            % (name, ", ".join(list_profiles()), path.parent)
        )
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise ProfileError("board profile %s is not valid JSON: %s" % (path, e)) from None
