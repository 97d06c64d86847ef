"""CSV uploads through pandas: the same arrays as the csv-module parser, bit for bit, on every
file the upload tests use, on generated files and on fuzzed ones; anything unusual falls back."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnviz.config import DEFAULT_BOUNDS, Bounds
from rnnviz.serve import uploads
from rnnviz.serve.uploads import UploadError, _parse_csv, _parse_csv_fast, read_data


def both(data: bytes, bounds: Bounds = DEFAULT_BOUNDS):
    """(the pandas path's arrays or None, the csv module's arrays or its UploadError)."""
    try:
        slow = _parse_csv(data, bounds)
    except (UploadError, UnicodeDecodeError) as exc:
        slow = exc
    return _parse_csv_fast(data, bounds), slow


def assert_identical(fast, slow) -> None:
    assert not isinstance(slow, Exception), slow
    for a, b in zip(fast, slow, strict=True):
        if a is None or b is None:
            assert a is b
        else:
            assert a.dtype == b.dtype == np.float32 and a.shape == b.shape
            assert a.tobytes() == b.tobytes()  # bit for bit, NaN and -0.0 included


def generated(n=40, steps=7, feats=3, y=True, fmt=repr, crlf=False, bom=False, seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, steps, feats)) * 10.0 ** rng.integers(-8, 8, size=(n, steps, feats))
    rows = [(s, t) for s in range(n) for t in range(steps)]
    rng.shuffle(rows)  # any order: sorted back by (sequence, step)
    head = ["sequence", "step", *(f"x{i + 1}" for i in range(feats))] + (["y"] if y else [])
    lines = [",".join(head)]
    for s, t in rows:
        cells = [str(s), str(t), *(fmt(float(v)) for v in x[s, t])]
        if y:
            cells.append(str(int(rng.integers(0, 2))))
        lines.append(",".join(cells))
    end = "\r\n" if crlf else "\n"
    return (b"\xef\xbb\xbf" if bom else b"") + (end.join(lines) + end).encode()


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"y": False},
        {"fmt": lambda v: f"{v:.6g}"},
        {"fmt": lambda v: f"{v:.3e}", "crlf": True, "bom": True},
        {"fmt": lambda v: f"{v:.17f}", "feats": 1, "steps": 2},
        {"fmt": lambda v: repr(v * 1e40)},  # beyond float32: inf, as float() then array('f')
    ],
    ids=["repr", "no y", "%.6g", "crlf bom", "long decimals", "overflow"],
)
def test_generated_files_give_identical_arrays(kwargs):
    data = generated(**kwargs)
    fast, slow = both(data)
    assert fast is not None, "a plain file must take the pandas path"
    assert_identical(fast, slow)


FILES = [
    b"sequence,step,x1\n0,0,0.5\n0,1,0.25\n1,1,3\n1,0,-2e-3\n",
    b"sequence,step,x1,x2,y\n0,0,1,2,1\n0,1,3,4,0\n\n",  # a blank line at the end
    b"Sequence, Step ,X1\n0,0,1\n",
    b"\xef\xbb\xbfsequence,step,x1,y\r\n0,0,0.5,1\r\n0.0,1.0,0.25,0\r\n",  # Excel's floats
    b"sequence,step,x1\n0,0,abc\n",
    b"sequence,step,x1\n0,0,1\n0,2,1\n",
    b"sequence,step,x1\n0,0,1,5\n",
    b"sequence,step,x1,x2\n0,0,0,0,0\n",  # pandas would read the extra cell as an index
    b"sequence,step,x1\n0,0,1\n0,1\n",
    b"sequence,step,x1\n0,0,\n",
    b"sequence,step,x1\n0,0,1\n0,1.9,2\n",
    b"sequence,step,x1\n-0.5,0,1\n",
    b"sequence,step,x1\n-1,0,1\n",
    b"sequence,step,x1\n0,0,1\n1e300,0,1\n",
    b"sequence,step,x1\n0,0,1\n0,1,1\n0,1,2\n",
    b"sequence,step,x1\n0,0,1e\n",
    b"sequence,step,x1\n0,0,1-2\n",
    b"sequence,step,x1\n0,0,1.5.2\n",
    b"sequence,step,x1\n0,0, 1\n",
    b'sequence,step,x1\n0,0,"1"\n',
    b"sequence,step,x1\n0,0,nan\n",
    b"sequence,step,x1\n0,0,1\r0,1,2\r",
    b"sequence,step,x1\n99999999999999999999,0,1\n",
    b"sequence,step,x1\n",
    b"sequence,step,x1",
    b"seq,x1\n0,1\n",
]


@pytest.mark.parametrize("data", FILES)
def test_the_pandas_path_agrees_or_steps_aside(data):
    fast, slow = both(data)  # None: the csv module reads it, or words the error with its line
    if fast is not None:
        assert_identical(fast, slow)
    assert (fast is not None) == (data in FILES[:4])  # every unusual file steps aside


def test_rows_beyond_the_cap_go_to_the_csv_module_which_counts_them():
    data = b"sequence,step,x1\n" + b"0,0,0\n" * 60_001
    assert _parse_csv_fast(data, Bounds(seq_len=(2, 3))) is None


CELL = st.one_of(
    st.integers(-3, 30).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(width=32, allow_nan=False).map(lambda v: f"{v:.5g}"),
    st.text(alphabet="0123456789+-.eE", min_size=0, max_size=6),
    # long decimals and extreme exponents: rounded to float64 as float() does, then to float32
    st.tuples(st.text("0123456789", min_size=1, max_size=30), st.integers(-330, 310)).map(
        lambda t: f"{t[0][:1]}.{t[0][1:]}e{t[1]}"
    ),
)
ROW = st.lists(CELL, min_size=2, max_size=5).map(",".join)


@settings(max_examples=500, deadline=None)
@given(rows=st.lists(ROW, min_size=1, max_size=12), end=st.sampled_from(["\n", "\r\n"]))
def test_fuzzed_files_agree_or_step_aside(rows, end):
    data = ("sequence,step,x1,x2" + end + end.join(rows) + end).encode()
    fast, slow = both(data)
    if fast is not None:
        assert_identical(fast, slow)


def test_read_data_takes_the_pandas_path_for_a_plain_file(monkeypatch):
    def refuse(*args):
        raise AssertionError("the csv module was used")

    monkeypatch.setattr(uploads, "_parse_csv", refuse)
    got = read_data("a.csv", generated(n=5, steps=3))
    assert got.x.shape == (5, 3, 3) and got.y.shape == (5, 3)
