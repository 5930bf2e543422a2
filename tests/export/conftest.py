"""Small trained models, saved and loaded back as ``caviar export`` reads them."""

from __future__ import annotations

import pytest

from caviar.config import TrainConfig
from caviar.data import load, train_val_test_split
from caviar.model import Model


@pytest.fixture(scope="session")
def digits_parts():
    config = TrainConfig()
    return train_val_test_split(
        load("digits"), config.val_fraction, config.test_fraction, config.data_seed
    )


@pytest.fixture
def trained(tmp_path, digits_parts):
    """``trained(**config) -> (model, test_set)``: 3 epochs on digits, through a checkpoint."""

    def make(**changes):
        config = TrainConfig(hidden=(32, 16), epochs=3, **changes)
        train, val, test = digits_parts
        model = Model.create(config, train)
        model.fit(train, val)
        return Model.load(model.save(tmp_path / "model.npz")), test

    return make
