"""dexec container app: train a scikit-learn classifier on a CSV data set, report held-out accuracy.

Reads the task's dataset, `$IEXEC_IN/$IEXEC_DATASET_FILENAME` (or its first input file,
`$IEXEC_IN/$IEXEC_INPUT_FILE_NAME_1`, when the task has no dataset): a CSV file whose last column
is the label and whose other columns are numbers, with or without a header row. Holds out a
seeded, stratified share of the rows, trains on the rest and writes to `$IEXEC_OUT`:

    accuracy.json     accuracy on the held-out rows, counts, classes, confusion matrix
    predictions.csv   line of each held-out row in the input, its label, the prediction
    computed.json     {"deterministic-output-path": "<IEXEC_OUT>"}: the whole directory

Every run on the same input and arguments writes the same bytes: fixed seeds, one thread (the
image sets OMP_NUM_THREADS=1), and sorted JSON. Bad input is reported on stderr, exit status 1.
"""

import argparse
import csv
import io
import json
import math
import os
import sys
import warnings
from typing import NoReturn

MODELS = ("forest", "logistic")


def fail(message: str) -> NoReturn:
    print(f"sklearn: {message}", file=sys.stderr)
    sys.exit(1)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="sklearn",
        description="Train a classifier on the task's CSV data set (last column: the label) "
        "and report its accuracy on held-out rows.",
    )
    parser.add_argument("--test-fraction", type=float, default=0.25, metavar="F",
                        help="share of the rows held out for testing, 0 < F < 1 (default 0.25)")
    parser.add_argument("--model", choices=MODELS, default="forest",
                        help="forest: a random forest (default); logistic: logistic regression")
    parser.add_argument("--trees", type=int, default=100, metavar="N",
                        help="trees in the random forest (default 100)")
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="seed of the split and of the forest (default 0)")
    args = parser.parse_args(argv)
    if not 0.0 < args.test_fraction < 1.0:
        parser.error(f"--test-fraction must be between 0 and 1 (exclusive), not {args.test_fraction}")
    if args.trees < 1:
        parser.error(f"--trees must be at least 1, not {args.trees}")
    if args.seed < 0 or args.seed >= 2**32:
        parser.error(f"--seed must be between 0 and 2^32 - 1, not {args.seed}")
    return args


def input_path() -> str:
    in_dir = os.environ.get("IEXEC_IN", "/iexec_in")
    name = os.environ.get("IEXEC_DATASET_FILENAME", "") or os.environ.get("IEXEC_INPUT_FILE_NAME_1", "")
    if not name:
        fail("no data set: this app reads the task's dataset ($IEXEC_IN/$IEXEC_DATASET_FILENAME) "
             "or its first input file; run it with a dataset")
    path = os.path.join(in_dir, name)
    if not os.path.isfile(path):
        fail(f"data set {path} not found")
    return path


def to_number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_csv(path: str) -> tuple[list[str], list[int], list[list[float]], list[str]]:
    """Header (label column last), line numbers, features and labels of the data rows."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        fail(f"{path} is not UTF-8 text (byte {e.start})")

    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, list[str]]] = []
    try:
        for fields in reader:
            if fields and any(field.strip() for field in fields):
                rows.append((reader.line_num, [field.strip() for field in fields]))
    except csv.Error as e:
        fail(f"{path} line {reader.line_num}: malformed CSV ({e})")
    if not rows:
        fail(f"{path} is empty: expected CSV rows of numbers, the label last")

    width = len(rows[0][1])
    if width < 2:
        fail(f"{path} line {rows[0][0]}: one column only; expected numbers then the label last")
    header = [f"x{i + 1}" for i in range(width - 1)] + ["label"]
    if any(to_number(field) is None for field in rows[0][1][:-1]):
        header = rows[0][1]
        rows = rows[1:]

    lines, features, labels = [], [], []
    for line, fields in rows:
        if len(fields) != width:
            fail(f"{path} line {line}: {len(fields)} columns where the first row has {width}")
        values = [to_number(field) for field in fields[:-1]]
        for column, (value, field) in enumerate(zip(values, fields)):
            if value is None:
                fail(f"{path} line {line}, column {column + 1} ({header[column]}): "
                     f"'{field}' is not a finite number")
        if not fields[-1]:
            fail(f"{path} line {line}: empty label (last column)")
        lines.append(line)
        features.append(values)
        labels.append(fields[-1])
    if len(set(labels)) < 2:
        fail(f"{path}: {len(labels)} data rows but fewer than two classes in the last column")
    return header, lines, features, labels


def main() -> None:
    args = parse_args(sys.argv[1:])
    out_dir = os.environ.get("IEXEC_OUT", "/iexec_out")
    if not os.path.isdir(out_dir):
        fail(f"output directory {out_dir} ($IEXEC_OUT) does not exist")
    path = input_path()
    header, lines, features, labels = read_csv(path)

    # After the input checks: a bad data set fails in a fraction of a second.
    # The Containerfile turns NumPy's SIMD code off; NumPy warns about features this CPU lacks.
    warnings.filterwarnings("ignore", message=".*NPY_DISABLE_CPU_FEATURES", category=RuntimeWarning)
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import confusion_matrix
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    index = np.arange(len(labels))
    counts = {label: labels.count(label) for label in set(labels)}
    stratify = y if min(counts.values()) >= 2 else None
    try:
        i_train, i_test = train_test_split(index, test_size=args.test_fraction,
                                           random_state=args.seed, stratify=stratify)
    except ValueError as e:
        fail(f"cannot hold out {args.test_fraction} of {len(labels)} rows: {e}")
    i_test = np.sort(i_test)
    if len(set(y[i_train])) < 2:
        fail("the training rows hold one class only: give more rows or a smaller --test-fraction")

    if args.model == "forest":
        model = RandomForestClassifier(n_estimators=args.trees, random_state=args.seed, n_jobs=1)
        model_name = f"random forest, {args.trees} trees"
    else:
        model = make_pipeline(StandardScaler(),
                              LogisticRegression(max_iter=1000, random_state=args.seed))
        model_name = "logistic regression (standardized features)"
    try:
        model.fit(x[i_train], y[i_train])
    except ValueError as e:
        fail(f"cannot train: {e}")
    predicted = model.predict(x[i_test])

    classes = sorted(counts)
    correct = int(np.sum(predicted == y[i_test]))
    matrix = confusion_matrix(y[i_test], predicted, labels=classes)
    report = {
        "accuracy": round(correct / len(i_test), 6),
        "correct": correct,
        "test_rows": int(len(i_test)),
        "train_rows": int(len(i_train)),
        "test_fraction": args.test_fraction,
        "seed": args.seed,
        "model": model_name,
        "features": header[:-1],
        "classes": classes,
        # confusion[true label][predicted label] = number of held-out rows
        "confusion": {t: {p: int(matrix[i][j]) for j, p in enumerate(classes)}
                      for i, t in enumerate(classes)},
    }

    try:
        with open(os.path.join(out_dir, "accuracy.json"), "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2, sort_keys=True)
            f.write("\n")
        with open(os.path.join(out_dir, "predictions.csv"), "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["line", header[-1], "predicted"])
            for i, p in zip(i_test, predicted):
                writer.writerow([lines[i], labels[i], p])
        with open(os.path.join(out_dir, "computed.json"), "w", encoding="utf-8") as f:
            json.dump({"deterministic-output-path": out_dir}, f)
    except OSError as e:
        fail(f"cannot write the results to {out_dir}: {e}")

    print(f"accuracy {report['accuracy']:.4f} ({correct}/{len(i_test)} held-out rows of "
          f"{len(labels)}), {model_name}")


if __name__ == "__main__":
    main()
