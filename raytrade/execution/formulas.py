"""The trading formulas, each written once: the vectorised kernel, the paper broker, the paper
replay and any strategy runner call these. Each is a plain Python function: Python callers run
it as written, and the kernels register them with numba (:func:`register_with_numba`, numba's
``register_jitable``) so that their ``@njit`` code compiles the same source inline: there is no
second copy to drift. The registration is the kernels' business, so the engine's actors and the
API, which call the formulas from Python, start without importing numba.

Conventions: prices in currency per share; ``impact`` and ``comm_rate`` are fractions (basis
points / 1e4); ``side`` is +1 for a buy and -1 for a sell; quantities are shares (signed where
named ``position`` or ``target``); ``weight`` is a target fraction of equity, negative for short.
"""

from __future__ import annotations

import functools
import math


def fill_price(ref: float, side: float, impact: float) -> float:
    """The price a market order fills at: ``ref`` worse by ``impact`` (half-spread plus slippage)
    in the trade's direction: buys pay ``ref x (1 + impact)``, sells get ``ref x (1 - impact)``."""
    return ref * (1.0 + side * impact)


def commission(quantity: float, fill: float, comm_rate: float, comm_per_share: float) -> float:
    """Commission of a fill of ``|quantity|`` shares at ``fill``: ``comm_rate`` of the notional plus
    ``comm_per_share`` per share (currency, >= 0)."""
    q = abs(quantity)
    return q * fill * comm_rate + q * comm_per_share


def unit_cost(ref: float, side: float, impact: float, comm_rate: float, comm_per_share: float) -> float:
    """What one share traded on ``side`` moves in cash, commission included, in absolute value:
    ``fill x (1 + comm_rate) + comm_per_share``."""
    return fill_price(ref, side, impact) * (1.0 + comm_rate) + comm_per_share


def target_shares(weight: float, cash: float, position: float, ref: float, impact: float, comm_rate: float,
                  comm_per_share: float, whole: bool, lot: float) -> float:
    """The signed share count for a target ``weight`` of equity, given ``cash`` and ``position``
    now and the reference price ``ref`` of the execution.

    1. Equity E = cash + position x ref. If E <= 0 or the weight is 0, the target is flat.
    2. A reversal (a position on the other side of the weight) is closed first: the closing fill's
       price and commission come off, E = cash + position x fill_close - commission_close (the cash
       left once flat); flat if that is <= 0.
    3. The count is |weight| x E / unit, unit = :func:`unit_cost` on the weight's side: what the
       shares and their commission cost (or, short, bring in) fits |weight| x E. With ``whole``, it
       is floored to a multiple of ``lot``.
    The position then moves to the target in one fill (a reversal's two legs share its price).
    """
    if weight == 0.0:
        return 0.0
    equity = cash + position * ref
    if equity <= 0.0:
        return 0.0
    side = 1.0 if weight > 0.0 else -1.0
    if position != 0.0 and (position > 0.0) != (weight > 0.0):
        closing = fill_price(ref, side, impact)  # the close trades on the new side too
        equity = cash + position * closing - commission(position, closing, comm_rate, comm_per_share)
        if equity <= 0.0:
            return 0.0
    n = abs(weight) * equity / unit_cost(ref, side, impact, comm_rate, comm_per_share)
    if whole:
        n = math.floor(n / lot) * lot
    return side * n


DUST = 1e-12
"""Relative size below which a change of position is float residue, not a trade (:func:`is_trade`)."""


def is_trade(target: float, position: float) -> bool:
    """Whether moving ``position`` to ``target`` is a trade: they differ by more than :data:`DUST`
    of the larger of the two in size. Recomputing an unchanged count (a rebalance at every bar at
    an unchanged price, without costs) comes back a few ulps off; that is no fill."""
    return abs(target - position) > DUST * max(abs(target), abs(position))


def book_target_shares(weight: float, equity: float, ref: float, whole: bool, lot: float) -> float:
    """The signed share count of one leg of a portfolio book (the portfolio kernel's rule 3):
    ``weight`` x ``equity`` / ``ref``, truncated toward zero to a multiple of ``lot`` with
    ``whole``; flat when equity is not > 0. Costs are not netted here: the book pays them from
    cash (:mod:`raytrade.backtest.portfolio`)."""
    if equity <= 0.0 or weight == 0.0:
        return 0.0
    n = weight * equity / ref
    if whole:
        n = math.copysign(math.floor(abs(n) / lot) * lot, n)
    return n


def rebalance_due(every_bar: bool, signal: float, previous_signal: float, sized: bool, scale: float) -> bool:
    """Whether a new target is set at this bar: at every bar with ``every_bar``; otherwise when the
    signal changed, or when the last target was set while the sizing scale was 0 (volatility
    warm-up) and the scale is now positive."""
    return every_bar or signal != previous_signal or (not sized and scale > 0.0)


def sized_after(signal: float, scale: float) -> bool:
    """Whether a target set with ``signal`` and ``scale`` is final (not waiting for a scale)."""
    return scale > 0.0 or signal == 0.0



# Impact model kinds for the compiled callers (:class:`raytrade.execution.impact.ImpactModel`).
NO_IMPACT = -1
POWER_LAW = 0
SQUARE_ROOT = 1


def impact_cost(quantity: float, adv: float, sigma: float, kind: int, eta: float, beta: float, gamma: float,
                y: float) -> float:
    """The size-dependent cost per share, a fraction of the price (>= 0), of ``|quantity|`` shares
    traded within one period whose average volume is ``adv`` and return volatility ``sigma`` (both
    per the same period: per day for daily bars, per bar otherwise), p = |quantity| / adv:

    - ``POWER_LAW`` (Almgren et al. 2005): eta sigma p^beta (temporary) + gamma sigma p / 2 (half
      the permanent move the trade makes, paid on average by the trade itself);
    - ``SQUARE_ROOT``: y sigma sqrt(p);
    - ``NO_IMPACT``: 0.

    Where ``adv`` is not > 0 (nothing traded over the window) p is taken as 1: a trade where
    nothing trades pays at least the cost of a whole period's volume.
    """
    if kind == NO_IMPACT or quantity == 0.0 or not sigma > 0.0:
        return 0.0
    p = abs(quantity) / adv if adv > 0.0 else 1.0
    if kind == SQUARE_ROOT:
        return y * sigma * math.sqrt(p)
    return eta * sigma * p**beta + gamma * sigma * p / 2.0


@functools.cache
def register_with_numba() -> None:
    """Make every formula callable from ``@njit`` code (once per process; a kernel module calls this
    before defining its compiled functions)."""
    from numba.extending import register_jitable

    for f in (fill_price, commission, unit_cost, target_shares, is_trade, book_target_shares, rebalance_due,
              sized_after, impact_cost):
        register_jitable(f)
