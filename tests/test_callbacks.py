"""gradkit.callbacks: argument checks (the behaviour is tested through fit in tests/models)."""

import pytest

from gradkit import callbacks


@pytest.mark.parametrize("make, error, message", [
    (lambda: callbacks.EarlyStopping(mode="lowest"), ValueError,
     r"EarlyStopping: mode must be one of 'auto', 'min', 'max'; received 'lowest'"),
    (lambda: callbacks.EarlyStopping(patience=-1), ValueError,
     r"EarlyStopping: patience must be an integer >= 0, received -1"),
    (lambda: callbacks.EarlyStopping(patience=2.5), TypeError, r"patience must be an integer"),
    (lambda: callbacks.EarlyStopping(min_delta="0.1"), TypeError, r"min_delta must be a finite"),
    (lambda: callbacks.ReduceLROnPlateau(factor=1.0), ValueError,
     r"ReduceLROnPlateau: factor must be a finite number > 0 and < 1, received 1.0"),
    (lambda: callbacks.ReduceLROnPlateau(cooldown=-2), ValueError, r"cooldown must be an integer"),
    (lambda: callbacks.ReduceLROnPlateau(min_lr=-1e-3), ValueError, r"min_lr must be a finite"),
])
def test_bad_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_auto_mode_follows_the_monitored_name():
    assert callbacks.EarlyStopping(monitor="val_accuracy").mode == "max"
    assert callbacks.EarlyStopping(monitor="val_loss").mode == "min"
