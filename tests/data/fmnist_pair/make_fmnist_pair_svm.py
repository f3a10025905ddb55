#!/usr/bin/python3
"""Writes fmnist_pair_svm.json: a linearly separable Fashion-MNIST pair and its hard-margin SVM.

The examples: the first 1000 training images of trouser (class 1, label 0 here) and of bag (class 8,
label 1), in file order; x = pixels / 255 (float32, as normscale reads them) plus a constant input 1
(the model's bias, penalised like a weight), float64 arithmetic. The SVM: min 1/2 ||w||^2 subject to
y w.x >= 1, no unpenalised intercept. scikit-learn's LinearSVC (hinge, large C, no intercept, liblinear's
dual solver) finds the support set; the exact solution is then the one of the KKT system on that set,
Q_SS alpha_S = 1, checked here: alpha_S > 0 and every margin >= 1 (so the pair is separable and the
answer exact up to rounding). LinearSVC stops at max_iter with a ConvergenceWarning; only its support
set is used, and the checks below decide. Takes minutes. Run once, by hand (needs numpy and scikit-learn,
Debian's python3-sklearn; never at test time):

    /usr/bin/python3 tests/data/fmnist_pair/make_fmnist_pair_svm.py [/usr/share/datasets/fashion-mnist]
"""
import gzip
import json
import os
import sys

import numpy as np
from sklearn.svm import LinearSVC

CLASSES = (1, 8)  # trouser, bag
PER_CLASS = 1000


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    dims = magic & 0xFF
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
    images = read_idx(os.path.join(folder, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(folder, "train-labels-idx1-ubyte.gz"))
    chosen = np.sort(np.concatenate([np.flatnonzero(labels == c)[:PER_CLASS] for c in CLASSES]))
    y01 = (labels[chosen] == CLASSES[1]).astype(np.int64)
    y = np.where(y01 == 1, 1.0, -1.0)
    pixels = images[chosen].reshape(len(chosen), -1)
    x = (pixels.astype(np.float32) / np.float32(255)).astype(np.float64)
    x = np.hstack([x, np.ones((len(chosen), 1))])

    svc = LinearSVC(loss="hinge", C=1e6, fit_intercept=False, dual=True, tol=1e-12, max_iter=10_000_000)
    svc.fit(x, y)
    margins = y * (x @ svc.coef_.ravel())
    support = np.flatnonzero(margins < 1 + 1e-3)

    # The exact solution on that support set.
    xs = x[support] * y[support, None]
    alpha = np.linalg.solve(xs @ xs.T, np.ones(len(support)))
    w = xs.T @ alpha
    margins = y * (x @ w)
    others = np.setdiff1d(np.arange(len(chosen)), support)
    assert np.all(alpha > 0), f"a support multiplier is not positive: {alpha.min()}"
    assert np.allclose(margins[support], 1.0, atol=1e-9), "support margins are not 1"
    assert np.all(margins[others] > 1.0 + 1e-6), f"a non-support margin is <= 1: {margins[others].min()}"
    norm2 = float(w @ w)
    assert abs(norm2 - alpha.sum()) < 1e-8 * norm2  # ||w||^2 = sum alpha at the SVM

    out = {
        "what": "hard-margin SVM (no intercept; x = pixels/255 plus a constant 1) of a Fashion-MNIST pair; "
                "written by make_fmnist_pair_svm.py",
        "classes": list(CLASSES),
        "indices": [int(i) for i in chosen],
        "labels": [int(v) for v in y01],
        "w_norm2": norm2,
        "support": [int(i) for i in support],
        "alpha_support": [float(a) for a in alpha],
        "smallest_other_margin": float(margins[others].min()),
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fmnist_pair_svm.json")
    with open(path, "w") as f:
        json.dump(out, f)
        f.write("\n")
    print(f"{len(chosen)} examples, ||w||^2 = {norm2:.10g}, {len(support)} support vectors, "
          f"smallest other margin {margins[others].min():.6f}; wrote {path}")


if __name__ == "__main__":
    main()
