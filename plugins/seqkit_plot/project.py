"""2-D projections of word vectors: PCA (NumPy), t-SNE (openTSNE) and UMAP (umap-learn).

Rows are scaled to unit length first: every seqkit query compares words by cosine, so the map should
show the same geometry. The heavy libraries are imported here, inside the functions, only when used.
"""

from __future__ import annotations

import numpy as np

from seqkit.errors import SeqkitError

METHODS = ("tsne", "umap", "pca")
EXTRA_HINT = "pip install 'seqkit[plot]'"
MIN_POINTS = {"pca": 2, "tsne": 4, "umap": 4}
FFT_FROM = 2000  # points from which t-SNE's FFT interpolation beats Barnes-Hut


def require(module: str, what: str) -> None:
    """One line naming the extra when an optional library is missing."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError:
        raise SeqkitError(f"{what} needs the plot extra ({module} is not installed): {EXTRA_HINT}") from None


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def pca(matrix: np.ndarray, extra: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The rows (and optionally `extra` rows, placed by the same fit) on the first two principal axes.

    Each axis's sign is fixed so that its largest loading is positive (scikit-learn's svd_flip), so the
    picture does not flip between runs or machines.
    """
    mean = matrix.mean(axis=0)
    centred = matrix - mean
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2]
    if axes.shape[0] < 2:  # one feature or one row: pad with a zero axis
        axes = np.vstack([axes, np.zeros((2 - axes.shape[0], matrix.shape[1]))])
    signs = np.sign(axes[np.arange(2), np.argmax(np.abs(axes), axis=1)])
    axes = axes * np.where(signs == 0, 1.0, signs)[:, None]
    placed = None if extra is None else (np.asarray(extra, dtype=np.float64) - mean) @ axes.T
    return centred @ axes.T, placed


def tsne(matrix: np.ndarray, seed: int, threads: int, perplexity: float = 30.0) -> np.ndarray:
    """openTSNE on cosine distances, PCA-initialised (deterministic for a seed): FFT-accelerated on large maps."""
    from openTSNE import TSNE

    perplexity = max(1.0, min(perplexity, (len(matrix) - 1) / 3.0))
    # the FFT grid costs the same for 50 points as for 5,000: Barnes-Hut is far quicker on small maps
    method = "fft" if len(matrix) >= FFT_FROM else "bh"
    model = TSNE(n_components=2, perplexity=perplexity, metric="cosine", initialization="pca",
                 negative_gradient_method=method, n_jobs=threads, random_state=seed, verbose=False,
                 ints_in_interval=2)  # a coarser FFT grid: twice as fast on 10,000 words, the same map to the eye
    return np.asarray(model.fit(matrix), dtype=np.float64)


def umap(matrix: np.ndarray, seed: int, neighbours: int = 15) -> np.ndarray:
    """umap-learn on cosine distances; a fixed random_state makes it single-threaded and reproducible."""
    import warnings

    from umap import UMAP

    with warnings.catch_warnings():  # "n_jobs overridden by random_state": that is the point
        warnings.simplefilter("ignore")
        model = UMAP(n_components=2, n_neighbors=max(2, min(neighbours, len(matrix) - 1)), metric="cosine",
                     random_state=seed, init="spectral" if len(matrix) > 10 else "random")
        return np.asarray(model.fit_transform(matrix), dtype=np.float64)


def project(matrix: np.ndarray, method: str, *, seed: int, threads: int) -> np.ndarray:
    """[n, 2] coordinates of the unit-length rows of `matrix` by `method`."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}")
    if len(matrix) < MIN_POINTS[method]:
        raise SeqkitError(f"{method} needs at least {MIN_POINTS[method]} words, got {len(matrix)}"
                          + ("; try --method pca" if method != "pca" else ""))
    rows = unit_rows(matrix)
    if method == "pca":
        return pca(rows)[0]
    require("openTSNE" if method == "tsne" else "umap", f"--method {method}")
    if method == "tsne":
        return tsne(rows, seed, threads)
    return umap(rows, seed)
