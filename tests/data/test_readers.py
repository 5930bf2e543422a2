import gzip
import re
import struct

import numpy as np
import pytest

from caviar.data import read, read_csv, read_idx, read_idx_images, read_npz
from caviar.data.readers import read_idx_array
from caviar.errors import DataError, InvalidArgument

GOOD_CSV = """sepal,petal,species
5.1,1.4,setosa
7.0,4.7,versicolor

6.3,6.0,virginica
"""


def _write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _in(path):
    """A regex that matches the file path literally."""
    return re.escape(str(path))


# --- CSV -----------------------------------------------------------------------------------


def test_csv_target_defaults_to_the_last_column(tmp_path):
    ds = read(_write(tmp_path, GOOD_CSV))
    assert ds.X.shape == (3, 2) and ds.X.dtype == np.float32
    assert ds.feature_names == ("sepal", "petal") and ds.name == "data"
    assert ds.classes.tolist() == ["setosa", "versicolor", "virginica"]
    np.testing.assert_allclose(ds.X[2], [6.3, 6.0])


def test_csv_target_by_name_and_integer_labels(tmp_path):
    text = 'label,"a b", c\n10,1,2\n2,3,4\n10,5,6\n'
    ds = read_csv(_write(tmp_path, text), target="label")
    assert ds.feature_names == ("a b", "c")
    assert ds.classes.tolist() == [2, 10] and ds.y.tolist() == [1, 0, 1]


def test_csv_unknown_target_lists_the_columns(tmp_path):
    path = _write(tmp_path, GOOD_CSV)
    with pytest.raises(DataError, match=r"no column is called 'kind'; the columns are \['sepal'"):
        read(path, target="kind")


def test_csv_nan_is_a_missing_cell_imputed_with_an_indicator(tmp_path):
    ds = read(_write(tmp_path, GOOD_CSV.replace("7.0,4.7", "7.0,nan")))
    assert ds.table is not None and ds.feature_names == ("sepal", "petal", "petal (missing)")
    np.testing.assert_allclose(ds.X[:, 1:], [[1.4, 0], [3.7, 1], [6.0, 0]], rtol=1e-6)


def test_csv_inf_names_the_file_line_and_column(tmp_path):
    path = _write(tmp_path, GOOD_CSV.replace("6.3,6.0", "inf,6.0"))
    with pytest.raises(DataError, match=_in(path) + r": line 5, column 'sepal' holds inf"):
        read(path)


def test_csv_single_class(tmp_path):
    path = _write(tmp_path, "a,b\n1,x\n2,x\n")
    with pytest.raises(DataError, match=_in(path) + r".*only one class \('x'\)"):
        read(path)


def test_csv_empty_file(tmp_path):
    path = _write(tmp_path, "")
    with pytest.raises(DataError, match=_in(path) + r" is empty: it holds no header and no rows"):
        read(path)


def test_csv_header_only(tmp_path):
    path = _write(tmp_path, "a,b,label\n\n")
    with pytest.raises(DataError, match=_in(path) + r" is empty: it holds a header but no rows"):
        read(path)


def test_csv_ragged_row_names_the_line(tmp_path):
    path = _write(tmp_path, GOOD_CSV.replace("6.3,6.0,virginica", "6.3,virginica"))
    with pytest.raises(DataError, match=_in(path) + r": line 5 has 2 fields but the header has 3"):
        read(path)


def test_csv_text_column_is_one_hot_encoded(tmp_path):
    ds = read(_write(tmp_path, "colour,size,label\n" + "red,1,a\nblue,2,b\n" * 5))
    assert ds.table.kinds == ("categorical", "numeric")
    assert ds.feature_names == ("colour=blue", "colour=red", "colour=(other)", "size")
    assert ds.X[:2, :3].tolist() == [[0, 1, 0], [1, 0, 0]]


def test_csv_empty_cell_is_missing(tmp_path):
    ds = read(_write(tmp_path, "x,size,label\n1,1,a\n2,,b\n"))
    assert ds.table.missing() == {"size": 1} and "size (missing)" in ds.feature_names


def test_csv_missing_label_and_duplicate_columns(tmp_path):
    with pytest.raises(DataError, match=r"line 3 has no 'label' label"):
        read(_write(tmp_path, "x,label\n1,a\n2,\n"))
    with pytest.raises(DataError, match=r"repeats the column names \['x'\]"):
        read(_write(tmp_path, "x,x,label\n1,2,a\n", "dup.csv"))


def test_csv_unseen_label_at_prediction(tmp_path):
    ds = read(_write(tmp_path, GOOD_CSV))
    new = read(_write(tmp_path, GOOD_CSV.replace("virginica", "iris_x"), "new.csv"))
    with pytest.raises(DataError, match=r"labels \['iris_x'\] were not seen in training"):
        ds.encode_labels(new.decode(new.y))


# --- paths ---------------------------------------------------------------------------------


def test_missing_path_is_named(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(DataError, match=_in(path) + r" does not exist"):
        read(path)


def test_unknown_suffix_and_target_outside_csv(tmp_path):
    path = _write(tmp_path, "x", "data.txt")
    with pytest.raises(DataError, match=_in(path) + r": caviar reads \.csv, \.csv\.gz, \.parquet"):
        read(path)
    with pytest.raises(InvalidArgument, match=r"'target', .* parameters apply to tables"):
        read(_write(tmp_path, "x", "d.npz"), target="y")


def test_unreadable_csv_is_named(tmp_path):
    path = tmp_path / "binary.csv"
    path.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(DataError, match=_in(path) + r" cannot be read as a UTF-8 CSV file"):
        read(path)


# --- NPZ -----------------------------------------------------------------------------------


def test_npz_round_trip(tmp_path):
    path = tmp_path / "d.npz"
    X = np.arange(12.0).reshape(6, 2)
    np.savez(path, X=X, y=np.array(["a", "b", "c"] * 2), feature_names=np.array(["u", "v"]))
    ds = read(path)
    np.testing.assert_array_equal(ds.X, X.astype(np.float32))
    assert ds.feature_names == ("u", "v") and ds.classes.tolist() == ["a", "b", "c"]
    assert read_npz(path).name == "d"


def test_npz_missing_keys_names_file_and_keys(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, features=np.zeros((2, 2)), y=np.array([0, 1]))
    msg = _in(path) + r" lacks the arrays \['X'\]; it holds \['features', 'y'\]"
    with pytest.raises(DataError, match=msg):
        read(path)


def test_npz_with_pickled_object_array_is_refused(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.zeros((2, 2)), y=np.array(["a", 1], dtype=object))
    msg = _in(path) + r": the array 'y' holds Python objects.*holds \['X', 'y'\]"
    with pytest.raises(DataError, match=msg):
        read(path)


def test_npz_that_is_not_an_archive(tmp_path):
    path = _write(tmp_path, "just text", "d.npz")
    with pytest.raises(DataError, match=_in(path) + r" cannot be read as an \.npz file"):
        read(path)
    np.save(tmp_path / "one.npy", np.zeros(3))
    (tmp_path / "one.npy").rename(tmp_path / "one.npz")
    with pytest.raises(DataError, match=r"one\.npz is not an \.npz archive but one array"):
        read(tmp_path / "one.npz")


def test_npz_with_nan_names_the_file(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.array([[1.0, np.nan], [0.0, 0.0]]), y=np.array([0, 1]))
    with pytest.raises(DataError, match=_in(path) + r": .*row 0, column 'x1' holds nan"):
        read(path)


# --- IDX -----------------------------------------------------------------------------------


def _idx_bytes(array, code=0x08):
    dtype = {0x08: ">u1", 0x0C: ">i4", 0x0D: ">f4"}[code]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.asarray(array, dtype=dtype).tobytes()


def _write_idx(path, array, gz=False, code=0x08):
    data = _idx_bytes(array, code)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def _images(n, seed):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)


def _mnist_folder(folder, gz, n_train=5, n_test=4):
    folder.mkdir()
    parts = {"train": (_images(n_train, 0), np.arange(n_train) % 3)}
    parts["t10k"] = (_images(n_test, 1), np.array([2, 0, 2, 2])[:n_test])
    for prefix, (images, labels) in parts.items():
        _write_idx(folder / f"{prefix}-images-idx3-ubyte", images, gz)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels.astype(np.uint8), gz)
    return parts


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder_gives_train_and_test(tmp_path, gz):
    parts = _mnist_folder(tmp_path / "mnist", gz)
    train, test = read_idx(tmp_path / "mnist")
    assert train.X.shape == (5, 784) and test.X.shape == (4, 784)
    assert train.X.dtype == np.float32 and 0.0 <= train.X.min() and train.X.max() <= 1.0
    np.testing.assert_allclose(train.X, parts["train"][0].reshape(5, 784) / 255.0, rtol=1e-6)
    assert train.y.tolist() == [0, 1, 2, 0, 1] and train.classes.tolist() == [0, 1, 2]
    assert test.classes.tolist() == [0, 1, 2] and test.y.tolist() == [2, 0, 2, 2]
    assert train.name == "mnist-train" and train.feature_names[29] == "pixel_1_1"
    np.testing.assert_array_equal(read(tmp_path / "mnist").X, train.X)  # read() = train part


def test_idx_single_images_file_finds_its_labels(tmp_path):
    parts = _mnist_folder(tmp_path / "mnist", gz=True)
    ds = read(tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz")
    assert ds.X.shape == (4, 784) and ds.classes.tolist() == [0, 2]
    np.testing.assert_allclose(ds.X * 255.0, parts["t10k"][0].reshape(4, 784), atol=1e-4)
    ds = read_idx_images(tmp_path / "mnist" / "train-images-idx3-ubyte.gz")
    assert ds.name == "train" and len(ds) == 5


def test_idx_truncated_file_is_named(tmp_path):
    _mnist_folder(tmp_path / "mnist", gz=False)
    path = tmp_path / "mnist" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    msg = _in(path) + r" is truncated: dimensions \(5, 28, 28\) need 3920 bytes"
    with pytest.raises(DataError, match=msg):
        read_idx(tmp_path / "mnist")
    path.write_bytes(path.read_bytes()[:9])
    with pytest.raises(DataError, match=_in(path) + r" is truncated: its header ends"):
        read(path)


def test_idx_truncated_gzip_is_named(tmp_path):
    _mnist_folder(tmp_path / "mnist", gz=True)
    path = tmp_path / "mnist" / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(DataError, match=_in(path) + r" cannot be read"):
        read_idx(tmp_path / "mnist")


def test_idx_wrong_magic_is_named(tmp_path):
    _mnist_folder(tmp_path / "mnist", gz=False)
    path = tmp_path / "mnist" / "t10k-labels-idx1-ubyte"
    path.write_bytes(b"\x1f\x8b" + path.read_bytes()[2:])
    with pytest.raises(DataError, match=_in(path) + r" is not an IDX file: its magic number"):
        read_idx(tmp_path / "mnist")


def test_idx_folder_missing_files_are_named(tmp_path):
    _mnist_folder(tmp_path / "mnist", gz=False)
    (tmp_path / "mnist" / "t10k-images-idx3-ubyte").unlink()
    with pytest.raises(
        DataError, match=r"IDX folder but lacks the files \['t10k-images-idx3-ubyte'\]"
    ):
        read(tmp_path / "mnist")


def test_idx_label_count_mismatch_and_missing_labels(tmp_path):
    _mnist_folder(tmp_path / "mnist", gz=False)
    _write_idx(tmp_path / "mnist" / "train-labels-idx1-ubyte", np.zeros(4, dtype=np.uint8))
    with pytest.raises(DataError, match=r"expected 5 integer labels"):
        read_idx(tmp_path / "mnist")
    lone = _write_idx(tmp_path / "lone-images-idx3-ubyte", _images(2, 0))
    with pytest.raises(DataError, match=r"its labels file lone-labels-idx1-ubyte\[\.gz\]"):
        read(lone)


def test_idx_test_labels_outside_the_training_classes(tmp_path):
    _mnist_folder(tmp_path / "mnist", gz=False)
    labels = tmp_path / "mnist" / "t10k-labels-idx1-ubyte"
    _write_idx(labels, np.array([2, 0, 9, 2], dtype=np.uint8))
    with pytest.raises(DataError, match=_in(labels) + r".*labels \[9\] were not seen"):
        read_idx(tmp_path / "mnist")


@pytest.mark.parametrize("code", [0x08, 0x0C, 0x0D])
def test_idx_array_dtypes_are_big_endian(tmp_path, code):
    array = np.arange(24).reshape(2, 3, 4)
    path = _write_idx(tmp_path / "a-idx", array, code=code)
    out = read_idx_array(path)
    assert out.shape == (2, 3, 4) and out.dtype.isnative
    np.testing.assert_array_equal(out, array)


def test_idx_longer_than_its_header(tmp_path):
    path = tmp_path / "a-idx"
    path.write_bytes(_idx_bytes(np.zeros(3, dtype=np.uint8)) + b"\0")
    with pytest.raises(DataError, match=_in(path) + r" is longer than its header says"):
        read_idx_array(path)


def test_csv_continuous_target_names_the_column(tmp_path):
    rows = "\n".join(f"{i % 7},{i * 0.37:.2f}" for i in range(60))
    path = _write(tmp_path, "rating,affairs\n" + rows + "\n")
    with pytest.raises(DataError, match=r"data.csv: .*the target 'affairs' is continuous"):
        read_csv(path, "affairs")
    assert read_csv(path, "rating").n_classes == 7
