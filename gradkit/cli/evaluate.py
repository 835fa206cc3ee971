"""``gradkit evaluate``: a saved model's loss and accuracy on a dataset's test split.

Without ``--dataset`` the dataset comes from the ``metrics.json`` that
``gradkit train`` wrote beside the model; for a toy set, so do the number of
points, the noise and the seed, so the very same test split is rebuilt.
"""

from __future__ import annotations

import numpy as np

from gradkit.cli import saved_model
from gradkit.cli.data import DATASETS, TOY_DATASETS, load_dataset
from gradkit.cli.errors import CLIError, usage_error


def cmd_evaluate(args) -> int:
    """``gradkit evaluate``: print a saved model's loss and accuracy on a test set."""
    model, path = saved_model.load(args.model, compile=True)
    info = saved_model.run_info(path)
    name = args.dataset or info.get("dataset") or "auto"
    if name not in DATASETS:
        name = "auto"
    toy = name in TOY_DATASETS
    if args.seed is not None and not toy:
        raise usage_error(f"--seed applies to the toy datasets ({', '.join(TOY_DATASETS)}) "
                          f"only; the test set of {name} is fixed")
    seed = args.seed if args.seed is not None else int(info.get("seed") or 0)
    from_run = toy and info.get("dataset") == name
    samples = args.samples if args.samples is not None or not from_run \
        else info.get("toy_samples")
    noise = args.noise if args.noise is not None or not from_run else info.get("toy_noise")
    data = load_dataset(name, data_dir=args.data_dir, download=not args.no_download,
                        samples=samples, noise=noise, seed=seed, test_only=True,
                        test_limit=args.limit)
    if data.note:
        print(data.note)
    sample_shape = saved_model.input_shape(model)
    units = saved_model.output_units(model, sample_shape)
    x, y = data.x_test, data.y_test
    x = saved_model.fit_to_model(x, sample_shape, f"the {data.title} test set")
    classes = max(units, 2)
    if int(y.max()) >= classes:
        raise CLIError(f"the model has {units} output(s) but {data.title} has labels up to "
                       f"{int(y.max())}; it was not trained on this dataset")
    if not model.compiled:
        loss = "binary_crossentropy" if units == 1 else "sparse_categorical_crossentropy"
        model.compile(optimizer="rmsprop", loss=loss, metrics=["accuracy"])
    results = model.evaluate(x, y, batch_size=args.batch_size, verbose=args.verbose,
                             return_dict=True)
    accuracy = results.get("accuracy")
    if accuracy is None:
        probs = saved_model.probabilities(model, x, args.batch_size)
        accuracy = float(np.mean(probs.argmax(axis=1) == y))
    print(f"dataset: {data.title} test set, {len(x)} samples")
    print(f"loss: {float(results['loss']):.4f}")
    print(f"accuracy: {float(accuracy):.4f}")
    return 0
