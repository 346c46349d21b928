"""Option-writing overlays as catalogue strategies: covered calls and cash-secured puts.

Each asset is a sleeve that writes one option per 100 shares' worth of its capital, monthly, held
to expiry (the rules and the synthetic Black-Scholes pricing are those of
:mod:`raytrade.backtest.overlays`: realised volatility over ``vol_lookback`` daily returns plus
``vol_premium``, no option chain data). The strike is chosen by delta. ``vol_premium`` defaults to
0: the premium then carries no variance risk premium, so whatever the overlay earns is not
assumed into it; a positive premium assumes one (implied above realised volatility) and the
overlay earns it by construction. Option costs are a fraction of the premium
(``option_half_spread``, 3% by default), not a fee a contract: the bundled prices are adjusted for
splits, so past contract counts are not real ones.
"""

from __future__ import annotations

from typing import Any, ClassVar

from raytrade.strategies.space import ParamBlock, Parameter, ParameterSpace

SYNTHETIC_NOTE = ("synthetic option prices: Black-Scholes at realised volatility plus a premium, not market quotes "
                  "(no option chain data)")

_PARAMS = (
    Parameter("delta", float, 0.05, 0.95, "|delta| of the option written (0.30: about 5% out of the money a month)"),
    Parameter("days_to_expiry", int, 7, 365, "calendar days to the expiry of each option written"),
    Parameter("vol_lookback", int, 5, 504, "daily returns in the realised volatility that prices the option"),
    Parameter("vol_premium", float, -0.2, 1.0, "added to the realised volatility (0.03 = 3 volatility points)"),
    Parameter("option_half_spread", float, 0.0, 0.5, "fraction of the option's price lost to the bid-ask at a sale"),
)
_DEFAULTS = {"delta": 0.30, "days_to_expiry": 30, "vol_lookback": 21, "vol_premium": 0.0,
             "option_half_spread": 0.03}


class _Overlay:
    kind: ClassVar[str]

    def __init__(self, allow_short: bool = False) -> None:
        self.allow_short = allow_short   # writing covered options sells nothing short

    def overlay(self, params: dict[str, int | float]) -> dict[str, Any]:
        return {"kind": self.kind, "delta": float(params["delta"]), "days_to_expiry": int(params["days_to_expiry"]),
                "vol_lookback": int(params["vol_lookback"]), "vol_premium": float(params["vol_premium"]),
                "option_half_spread": float(params["option_half_spread"])}

    def warmup(self, block: ParamBlock) -> int:
        return int(block["vol_lookback"].max()) + 1


class CoveredCall(_Overlay):
    """Own the stock; each month write calls on all of it at the ``delta`` strike, 30 days out by
    default; assigned calls are settled (the stock delivered at the strike and bought back at the
    close) so the book stays covered. Income in flat and falling markets, upside given up."""

    name: ClassVar[str] = "covered_call"
    kind: ClassVar[str] = "covered_call"
    space: ClassVar[ParameterSpace] = ParameterSpace(params=_PARAMS, defaults=dict(_DEFAULTS))


class CashSecuredPut(_Overlay):
    """Hold cash; each month write as many puts at the ``delta`` strike as the cash secures;
    assigned puts are settled (the stock bought at the strike and sold at the close), so the book
    stays in cash. Paid to stand ready to buy the stock lower."""

    name: ClassVar[str] = "cash_secured_put"
    kind: ClassVar[str] = "cash_secured_put"
    space: ClassVar[ParameterSpace] = ParameterSpace(params=_PARAMS, defaults=dict(_DEFAULTS))
