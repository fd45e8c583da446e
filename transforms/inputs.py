"""Input entries that are not readable regular files, and how any file name is shown.

Beam's local listing walks the folder of an `--input` pattern and keeps what it can `stat`: a
dangling symbolic link, a link loop or a folder it cannot list vanishes without a word, and a
FIFO, socket or device is listed like a file, so opening it blocks or reads a stream forever.
`unlisted_entries` finds what the listing dropped, so that it is read (and rejected) like any
other input; `entry_problem` is the reject for an entry that is not a readable regular file,
checked before a file is opened. Both concern local paths only: object stores hold only objects.

`printable` is the one way a file name reaches a terminal: control characters in a name (an
escape sequence, a bell, a newline) are shown escaped, never sent to the terminal.
"""

from __future__ import annotations

import errno
import os
import re
import stat

from apache_beam.io.filesystem import FileMetadata, FileSystem

from newsbeam.schemas import Reject

__all__ = ["entry_problem", "is_regular_input", "printable", "unlisted_entries"]

# C0 and C1 controls, DEL, and the Unicode line and paragraph separators and bidi overrides,
# which move or rewrite what a terminal shows.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str, lines: bool = False) -> str:
    """`text` (a file name, or a message naming files) as it may be printed to a terminal: each
    control character as `\\xNN` (or `\\uNNNN`), everything else as it is; with `lines`, line
    breaks are kept (a message of several lines)."""
    if not _CONTROL.search(text):
        return text
    if lines:
        return "\n".join(printable(line) for line in text.split("\n"))

    def escape(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _CONTROL.sub(escape, text)


def _is_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def _may_hold_matches(folder: str, pattern: str) -> bool:
    """Whether a path inside `folder` could match `pattern` (Beam's glob: `*` within one path
    component, `**` across components)."""
    parts = pattern.split("/")
    folder_parts = folder.rstrip("/").split("/")
    for part, name in zip(parts, folder_parts, strict=False):
        if "**" in part:
            head = part.split("**", 1)[0]
            return re.match(FileSystem.translate_pattern(head + "*"), name) is not None
        if re.match(FileSystem.translate_pattern(part), name) is None:
            return False
    return len(folder_parts) < len(parts)


def _listing_root(pattern: str) -> str:
    """The folder Beam's local listing walks for a glob pattern."""
    prefix = re.match(r"^[^[*?]*", pattern)
    head = prefix.group(0) if prefix else ""
    return os.path.dirname(head) or "."


def unlisted_entries(pattern: str) -> list[FileMetadata]:
    """The local entries matching `pattern` that Beam's listing leaves out: symbolic links whose
    target is missing or loops back, and folders (the one walked or one inside it) that cannot
    be listed when `pattern` could match something in them. Each becomes an input of size 0,
    which `entry_problem` then rejects with the reason. Empty for a remote pattern."""
    if "://" in pattern:
        return []
    if pattern.endswith("/"):
        pattern += "*"
    if not _is_glob(pattern):
        if os.path.islink(pattern) and not os.path.exists(pattern):
            return [FileMetadata(pattern, 0)]
        return []
    regex = re.compile(FileSystem.translate_pattern(pattern))
    found: list[FileMetadata] = []
    failures: list[OSError] = []
    root = _listing_root(pattern)
    if not os.path.isdir(root):
        return []
    for folder, _, names in os.walk(root, onerror=failures.append):
        for name in names:
            path = os.path.join(folder, name)
            if regex.match(path) and os.path.islink(path) and not os.path.exists(path):
                found.append(FileMetadata(path, 0))
    for failure in failures:
        folder = str(failure.filename)
        if _may_hold_matches(folder, pattern):
            found.append(FileMetadata(folder, 0))
    return found


_KINDS = {
    stat.S_ISFIFO: "a FIFO (named pipe)",
    stat.S_ISSOCK: "a socket",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
}


def entry_problem(path: str, uri: str) -> Reject | None:
    """The reject for a local input entry that is not a readable regular file (`uri`: the
    path as recorded), or None for a regular file, a remote path, or a path that has gone
    (opening it reports that)."""
    if "://" in path:
        return None

    def reject(reason: str, message: str) -> Reject:
        return Reject(source_uri=uri, stage="read", reason=reason, message=f"{uri}: {message}")

    try:
        status = os.stat(path)
    except OSError as error:
        if not os.path.islink(path):
            return None
        target = os.readlink(path)
        if error.errno == errno.ELOOP:
            return reject(
                "symlink_loop",
                f"a symbolic link that loops back on itself (to {printable(target)}); "
                "point it at a file or remove it",
            )
        return reject(
            "dangling_symlink",
            f"a symbolic link to {printable(target)}, which does not exist; "
            "restore the target or remove the link",
        )
    if stat.S_ISDIR(status.st_mode):
        try:
            os.listdir(path)
        except OSError as error:
            return reject(
                "unreadable_folder",
                f"cannot list this folder ({error.strerror}); its files were not read: "
                "make it readable by the user running newsbeam",
            )
        return reject("not_a_regular_file", "a folder, not a file; match the files inside it")
    for test, kind in _KINDS.items():
        if test(status.st_mode):
            return reject(
                "not_a_regular_file",
                f"{kind}, not a regular file; newsbeam reads only regular files, "
                "remove it from the input pattern",
            )
    return None


def is_regular_input(path: str) -> bool:
    """Whether `path` may be opened and read to its end: a regular file, or a remote object."""
    return entry_problem(path, path) is None
