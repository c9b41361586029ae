"""The forms of model names and versions: a model name is a DNS-1123 label (a folder and a label
value), a version is vYYYYMMDD-HHMMSS, the UTC time it was trained."""

from __future__ import annotations

import re
from datetime import UTC, datetime

VERSION_FORMAT = "v%Y%m%d-%H%M%S"
MODEL_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
VERSION_RE = re.compile(r"^v(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})$")


def is_valid_model_name(name: str) -> bool:
    """True when `name` is a DNS-1123 label (it becomes a folder and a label value)."""
    return bool(MODEL_NAME_RE.match(name))


def is_valid_version(version: str) -> bool:
    """True when `version` has the form vYYYYMMDD-HHMMSS and is a real UTC time."""
    match = VERSION_RE.match(version)
    if not match:
        return False
    try:
        datetime(*(int(group) for group in match.groups()))
    except ValueError:
        return False
    return True


def version_at(moment: datetime) -> str:
    """The version name for a moment, in UTC."""
    return moment.astimezone(UTC).strftime(VERSION_FORMAT)
