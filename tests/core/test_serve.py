"""``ohgesture serve`` without Blender: its greeting, one-line refusals of bad requests (before
any model loads) and its exit at the end of its input."""

import json
import subprocess
import sys

from ohgesture.core.cli import protocol
from support import ENTRY, SAMPLES


def test_the_worker_answers_bad_requests_in_one_line_and_ends_with_its_input(tmp_path):
    lines = [
        "not json",
        json.dumps({"version": 99, "id": 1, "argv": ["generate"]}),
        json.dumps(protocol.request_message(2, ["generate", SAMPLES / "speech_en.wav", "--out", tmp_path / "a.npz",
                                                "--energy", "9"])),
        json.dumps(protocol.request_message(3, ["info", "x"])),
    ]
    proc = subprocess.run([sys.executable, str(ENTRY), "serve"], input="\n".join(lines) + "\n", capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    assert answers[0]["hello"] == protocol.VERSION and answers[0]["pid"] > 0
    assert answers[1]["error"].startswith("Expecting value") and answers[1]["exit"] == 2
    assert answers[2] == {"id": 1, "error": "this worker speaks protocol version 1, the request 99.", "exit": 2}
    assert answers[3] == {"id": 2, "error": "--energy must be a number from -5 to 5, got 9.", "exit": 2}
    assert answers[4] == {"id": 3, "error": "a request's argv must start with generate.", "exit": 2}
    assert not (tmp_path / "a.npz").exists() and len(answers) == 5


def test_the_messages_read_back():
    for message in (protocol.hello_message(), protocol.request_message(1, ["generate", "a.wav"]),
                    protocol.progress_message(1, 0.5, "sampling"), protocol.note_message(1, "padded"),
                    protocol.done_message(1, "a.npz", 0.5), protocol.error_message(1, "bad.", 2),
                    protocol.cancelled_message(1), protocol.cancel_message(1)):
        assert protocol.read_message(protocol.write_message(message)) == message
    assert protocol.read_message("  \n") is None
