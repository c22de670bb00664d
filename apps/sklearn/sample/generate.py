#!/usr/bin/env python3
"""Write iris.csv: a synthetic, iris-like data set (150 rows, 4 measurements, 3 species).

Each species draws its four measurements from normal distributions around made-up centres,
with a fixed seed, so the file is the same at every run (Python's `random` is stable across
versions for a given seed). Nothing is taken from the real iris data set.

    python3 apps/sklearn/sample/generate.py > apps/sklearn/sample/iris.csv
"""

import random
import sys

SPECIES = {
    # name: (mean, standard deviation) of sepal length, sepal width, petal length, petal width, cm
    "setosa": ((5.0, 0.35), (3.4, 0.38), (1.5, 0.17), (0.25, 0.1)),
    "versicolor": ((5.9, 0.5), (2.8, 0.3), (4.3, 0.45), (1.3, 0.2)),
    "virginica": ((6.6, 0.6), (3.0, 0.3), (5.5, 0.55), (2.0, 0.27)),
}
ROWS_PER_SPECIES = 50


def main() -> None:
    rng = random.Random(20260711)
    rows = []
    for name, dists in SPECIES.items():
        for _ in range(ROWS_PER_SPECIES):
            values = [max(0.1, round(rng.gauss(mean, sd), 1)) for mean, sd in dists]
            rows.append([f"{v:.1f}" for v in values] + [name])
    rng.shuffle(rows)
    out = sys.stdout
    out.write("sepal_length,sepal_width,petal_length,petal_width,species\n")
    for row in rows:
        out.write(",".join(row) + "\n")


if __name__ == "__main__":
    main()
