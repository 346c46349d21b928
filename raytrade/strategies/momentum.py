"""Time-series momentum (Moskowitz, Ooi and Pedersen 2012, on one asset)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from raytrade.strategies.space import ParamBlock, Parameter, ParameterSpace


class TimeSeriesMomentum:
    """Long when the asset's own past return is positive, short (or flat) when negative.

    The return is measured from bar t - ``lookback`` to bar t - ``skip`` (``skip`` = 0 uses the
    latest close; 21 gives the classic 12-1 month form with lookback 252). Flat until
    ``lookback`` bars of history exist, and when the return is exactly 0. Windows in bars.
    """

    name: ClassVar[str] = "ts_momentum"
    space: ClassVar[ParameterSpace] = ParameterSpace(
        params=(
            Parameter("lookback", int, 2, 5000, "return measured from this many bars back"),
            Parameter("skip", int, 0, 1000, "most recent bars left out of the return"),
        ),
        constraint=lambda p: p["skip"] < p["lookback"],
        constraint_doc="skip < lookback",
        defaults={"skip": 0},
    )

    def __init__(self, allow_short: bool = False) -> None:
        self.allow_short = allow_short

    def prepare(self, close: np.ndarray, block: ParamBlock) -> np.ndarray:
        return np.log(np.asarray(close, dtype=np.float64))

    def signals(self, prepared: np.ndarray, block: ParamBlock) -> np.ndarray:
        logc = prepared
        n = len(logc)
        out = np.zeros((n, len(block)))
        for k, (lb, sk) in enumerate(zip(block["lookback"], block["skip"], strict=True)):
            lb, sk = int(lb), int(sk)
            if lb < n:
                ret = logc[lb - sk: n - sk] - logc[: n - lb]
                out[lb:, k] = np.sign(ret)
        if not self.allow_short:
            np.maximum(out, 0.0, out=out)
        return out

    def warmup(self, block: ParamBlock) -> int:
        return int(block["lookback"].max())
