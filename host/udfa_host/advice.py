"""Runs on the PC: what a fault of the board's file system means and what to do about it, by
errno (cli.main adds it to a BoardFileError's message; it is the one caller)."""

# The board's errno values are MicroPython's (py/mperrno.h), whatever this PC's errno module
# says; CircuitPython uses the same numbers.
ENOENT, EIO, EACCES, EEXIST, ENODEV, ENOTDIR, EISDIR, EINVAL, ENOSPC, EROFS = (
    2, 5, 13, 17, 19, 20, 21, 22, 28, 30)
NAMES = {ENOENT: "ENOENT", EIO: "EIO", EACCES: "EACCES", EEXIST: "EEXIST", ENODEV: "ENODEV",
         ENOTDIR: "ENOTDIR", EISDIR: "EISDIR", EINVAL: "EINVAL", ENOSPC: "ENOSPC",
         EROFS: "EROFS"}
# verb -> the verbs that make what it reads on the board (a missing file: run those first)
MAKERS = {
    "push": "'udfa deploy'",
    "train": "'udfa deploy' (the udfa package) and 'udfa push' (the shards)",
    "pull": "'udfa train' (it writes the checkpoint that pull reads)",
}


def board_file(err, verb=None):
    """One sentence for a board OSError of errno `err` raised during 'udfa VERB'."""
    name = "%s %d" % (NAMES.get(err, "errno"), err)
    again = ("then 'udfa train' resumes from the checkpoint" if verb in ("train", None) else
             "then run 'udfa %s' again" % verb)
    if err == ENOSPC:
        return ("the board's flash is full (%s); nothing was lost, the newest checkpoint is "
                "intact: remove files, e.g. old shards with 'udfa push --prune', or push fewer "
                "samples; %s" % (name, again))
    if err == EROFS:
        return ("the board's file system is read-only to code (%s): on CircuitPython, boot.py "
                "must remount it: 'udfa deploy --drive PATH' copies boot.py to the CIRCUITPY "
                "drive; then reset the board" % name)
    if err == ENOENT:
        return ("a file or folder is missing on the board (%s): run %s first"
                % (name, MAKERS.get(verb, "'udfa deploy', 'udfa push' and 'udfa train'")))
    return ("the board's file system refused (%s): check the board's files with 'mpremote "
            "fs ls', reset the board, and retry" % name)
