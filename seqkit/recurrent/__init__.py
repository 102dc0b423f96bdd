"""Recurrent layers as a reusable unit: RNN (tanh), GRU and LSTM over batches of sequences [T, B, input].

- `seqkit.recurrent.layers`: `RnnLayer`, `GruLayer`, `LstmLayer` (`make_layer`), forward and backward,
  either direction (`reverse=True`), variable lengths, state in and out; `init_layer_params`.
- `seqkit.recurrent.stack`: `Stack`, layers fed one into the next with dropout between them.
- `seqkit.recurrent.cells`: the fused @njit gate kernels; `seqkit.recurrent.fastmath`: the float32
  exponential they share with other kernels.
- `seqkit.recurrent.pool`, `seqkit.recurrent.blas`: the thread pool a network runs on, and keeping
  OpenBLAS single-threaded meanwhile.

This package stays light: importing it loads neither NumPy nor Numba; the names below are looked up
from their submodules on first use.
"""

from __future__ import annotations

_EXPORTS = {
    "GATES": "layers", "RecurrentLayer": "layers", "RnnLayer": "layers", "GruLayer": "layers",
    "LstmLayer": "layers", "make_layer": "layers", "init_layer_params": "layers", "param_names": "layers",
    "Stack": "stack", "Pool": "pool", "single_threaded_blas": "blas",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
