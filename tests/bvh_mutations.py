"""Hypothesis strategies for mutated and truncated BVH text, shared by the BVH reader's
fuzz test and the add-on's hardening test."""

from __future__ import annotations

from hypothesis import strategies as st

BASE_BVH = """HIERARCHY
ROOT Hips
{
\tOFFSET 0.0 90.0 0.0
\tCHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
\tJOINT Spine
\t{
\t\tOFFSET 0.0 10.0 -2.0
\t\tCHANNELS 3 Zrotation Yrotation Xrotation
\t\tJOINT Head
\t\t{
\t\t\tOFFSET 0 12.5 0
\t\t\tCHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
\t\t\tEnd Site
\t\t\t{
\t\t\t\tOFFSET 0 5 0
\t\t\t}
\t\t}
\t}
\tJOINT Leg
\t{
\t\tOFFSET 10 -5 0
\t\tCHANNELS 2 Yrotation Xposition
\t}
}
MOTION
Frames: 3
Frame Time: 0.0333333
1 90 2 10 20 30 5 6 7 0 12.5 0 1 2 3 45 12
2 91 3 11 21 31 6 7 8 0 12.5 0 1 2 3 46 13
3 92 4 12 22 32 7 8 9 0 12.5 0 1 2 3 47 14
"""

VOCABULARY = [
    "HIERARCHY", "ROOT", "JOINT", "End", "Site", "{", "}", "OFFSET", "CHANNELS", "MOTION", "Frames:",
    "Frame", "Time:", "Xposition", "Yrotation", "Zrotation", "Wrotation", "0", "1", "6", "7", "-3.5", "1e400",
    "nan", "inf", "-0", "1e-9", "99999999999", "Hips", "\n", "\t", "", "x", ":", "0.0.1", "+", "\x00", "é",
]


def tokens_of(text: str) -> list[str]:
    # Keep newlines as tokens so that the line structure can be mutated too.
    return [token for line in text.split("\n") for token in (line.split() + ["\n"])]


BASE_TOKENS = tokens_of(BASE_BVH)

token_edit = st.one_of(
    st.tuples(st.just("delete"), st.integers(0, 10**6)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.sampled_from(VOCABULARY)),
    st.tuples(st.just("replace"), st.integers(0, 10**6), st.sampled_from(VOCABULARY)),
    st.tuples(st.just("duplicate"), st.integers(0, 10**6), st.integers(1, 40)),
)
byte_edit = st.one_of(
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 8)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.binary(min_size=1, max_size=4)),
    st.tuples(st.just("replace"), st.integers(0, 10**6), st.binary(min_size=1, max_size=1)),
)


def apply_token_edits(edits) -> bytes:
    tokens = list(BASE_TOKENS)
    for edit in edits:
        index = edit[1] % (len(tokens) + 1)
        if edit[0] == "delete" and index < len(tokens):
            del tokens[index]
        elif edit[0] == "insert":
            tokens.insert(index, edit[2])
        elif edit[0] == "replace" and index < len(tokens):
            tokens[index] = edit[2]
        elif edit[0] == "duplicate":
            tokens[index:index] = tokens[index : index + edit[2]]
    return " ".join(tokens).replace(" \n ", "\n").encode("utf-8")


def apply_byte_edits(edits) -> bytes:
    data = bytearray(BASE_BVH.encode())
    for kind, position, payload in edits:
        index = position % (len(data) + 1)
        if kind == "delete":
            del data[index : index + payload]
        elif kind == "insert":
            data[index:index] = payload
        elif index < len(data):
            data[index : index + 1] = payload
    return bytes(data)


mutated_bvh = st.one_of(
    st.lists(token_edit, min_size=1, max_size=4).map(apply_token_edits),
    st.lists(byte_edit, min_size=1, max_size=4).map(apply_byte_edits),
    st.integers(0, len(BASE_BVH.encode())).map(lambda cut: BASE_BVH.encode()[:cut]),
)
