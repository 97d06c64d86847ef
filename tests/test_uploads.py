"""Bring-your-own data and models: what is accepted, and clear refusals for the rest."""

import io

import keras
import numpy as np
import pytest

from rnnviz.config import Config
from rnnviz.hosting import HOSTED_BOUNDS, load_settings
from rnnviz.model import Predictor, build_model
from rnnviz.uploads import UploadError, check_data, load_weights, load_whole_model, read_data

CFG = Config(n_train=100, seq_len=6)


def npy(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def test_npy_npz_and_csv_give_the_same_arrays():
    x = np.random.default_rng(0).random((4, 3, 2)).astype(np.float32)
    y = (x[:, :, 0] > 0.5).astype(np.float32)
    assert np.array_equal(read_data("a.npy", npy(x)).x, x)
    buf = io.BytesIO()
    np.savez(buf, x=x, y=y)
    got = read_data("a.npz", buf.getvalue())
    assert np.array_equal(got.x, x) and np.array_equal(got.y, y)
    rows = ["sequence,step,x1,x2,y"] + [
        f"{i},{t},{float(x[i, t, 0])!r},{float(x[i, t, 1])!r},{int(y[i, t])}"
        for i in range(4)
        for t in range(3)
    ]
    got = read_data("a.csv", "\n".join(rows).encode())
    np.testing.assert_allclose(got.x, x, rtol=1e-6)
    assert np.array_equal(got.y, y)


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("a.npy", npy(np.zeros((4, 3))), "3 dimensions"),
        ("a.npy", npy(np.zeros((4, 300, 2))), "300 steps"),
        ("a.npy", npy(np.full((2, 3, 2), np.nan)), "NaN"),
        ("a.npy", b"garbage", "could not be read"),
        ("a.npy", npy(np.array([{"a": 1}], dtype=object)), "could not be read"),
        ("a.txt", b"1,2", ".npy, .npz or .csv"),
        ("a.csv", b"sequence,step,x1\n0,0,abc\n", "line 2, column 'x1': 'abc' is not a number"),
        ("a.csv", b"seq,x1\n0,1\n", "header must start with"),
        ("a.csv", b"sequence,step,x1\n0,0,1\n0,2,1\n", "exactly one row"),
        ("a.csv", b"sequence,step,x1\n0,0,1,5\n", "has 4 values"),
        ("a.npy", b"", "empty"),
    ],
)
def test_bad_data_is_rejected_with_what_is_wrong(name, data, message):
    with pytest.raises(UploadError, match=message):
        read_data(name, data)


def test_oversized_file_and_bad_labels_are_rejected():
    with pytest.raises(UploadError, match="limit is 0.001 MB"):
        read_data("a.npy", npy(np.zeros((50, 10, 3))), max_mb=0.001)
    with pytest.raises(UploadError, match="only 0 and 1"):
        check_data(np.zeros((2, 3, 1)), np.full((2, 3), 0.5))
    with pytest.raises(UploadError, match="shape"):
        check_data(np.zeros((2, 3, 1)), np.zeros((2, 4)))
    with pytest.raises(UploadError, match="allowed 1 to 8"):
        check_data(np.zeros((2, 3, 9)), None, HOSTED_BOUNDS)


def test_weights_for_the_built_architecture_round_trip(tmp_path):
    model = build_model(CFG)
    path = tmp_path / "w.weights.h5"
    model.save_weights(path)
    loaded = load_weights(path.read_bytes(), CFG.replace(seed=5))  # other init, same shapes
    x = np.random.default_rng(1).random((8, 6, 3), dtype=np.float32)
    np.testing.assert_array_equal(Predictor(model)(x), Predictor(loaded)(x))
    with pytest.raises(UploadError, match="do not fit the architecture"):
        load_weights(path.read_bytes(), CFG.replace(units=(8, 4)))
    with pytest.raises(UploadError, match="do not fit"):
        load_weights(b"not an h5 file", CFG)


def test_whole_model_refused_in_hosted_mode_and_lambda_refused_everywhere(tmp_path):
    model = build_model(CFG)
    model.save(tmp_path / "m.keras")
    data = (tmp_path / "m.keras").read_bytes()
    settings = load_settings(env={"RNNVIZ_HOSTED": "1"})
    assert not settings.whole_model_uploads
    with pytest.raises(UploadError, match="hosted mode"):
        load_whole_model(data, allowed=settings.whole_model_uploads)
    loaded = load_whole_model(data, allowed=True)
    assert loaded.input_shape == (None, 6, 3)

    inp = keras.Input((6, 3))
    lam = keras.Model(inp, keras.layers.Lambda(lambda z: z * 2)(inp))
    lam.save(tmp_path / "l.keras")
    with pytest.raises(UploadError, match="Lambda"):
        load_whole_model((tmp_path / "l.keras").read_bytes(), allowed=True)
    with pytest.raises(UploadError, match="not a .keras model"):
        load_whole_model(b"PK nothing", allowed=True)


def test_settings_from_env_and_secrets():
    local = load_settings(env={})
    assert not local.hosted and local.whole_model_uploads and local.bounds.seq_len == (2, 200)
    hosted = load_settings(env={}, secrets={"hosted": True, "max_disk_models": 7})
    assert hosted.hosted and hosted.bounds is HOSTED_BOUNDS and hosted.max_disk_models == 7
    assert load_settings(env={"RNNVIZ_HOSTED": "0"}, secrets={"hosted": "true"}).hosted is False
    assert load_settings(env={"RNNVIZ_UPLOADS": "off"}).uploads is False
    with pytest.raises(ValueError, match="max_disk_models"):
        load_settings(env={"RNNVIZ_MAX_DISK_MODELS": "many"})
    with pytest.raises(ValueError, match=">= 1"):
        load_settings(env={"RNNVIZ_MAX_MEMORY_MODELS": "0"})


def test_presets_fit_the_hosted_bounds():
    from rnnviz.config import PRESETS

    for cfg in PRESETS.values():
        assert cfg.validate(HOSTED_BOUNDS) is cfg
