"""Pre-trade risk checks: the limits of :class:`RiskLimits` applied to one order.

Conventions: the order is valued at the symbol's mark (last known price) x quantity x the
instrument's multiplier. Exposure is projected with the open orders: for every symbol, projected
quantity = position + signed remaining quantity of its open orders, plus this order on its own
symbol. An order is *risk-increasing* when it makes its symbol's projected |quantity| larger;
weight, sector and leverage limits and a halt refuse only risk-increasing orders, so a position
can always be reduced. Rejections carry a reason code and the numbers that triggered them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from raytrade.core.enums import RejectReason
from raytrade.core.orders import Order
from raytrade.core.portfolio import Portfolio
from raytrade.risk.decision import OK, RiskDecision
from raytrade.risk.limits import RiskLimits

EPS = 1e-9
__all__ = ["OK", "PreTradeRisk", "RiskDecision"]


class PreTradeRisk:
    """Limits plus the state they need: halt flag and the recent-order window of the rate limit.

    A check that finds the daily loss limit breached sets ``halted`` itself (the caller compares
    ``halted`` before and after to record the halt); only :meth:`resume` clears it.
    """

    def __init__(self, limits: RiskLimits, sectors: Mapping[str, str | None] | None = None,
                 wall: Callable[[], datetime] | None = None) -> None:
        self.limits = limits
        self.figures: Any = None   # the book's last RiskFigures (raytrade.risk.live), set by the engine
        self.wall = wall or (lambda: datetime.now(UTC))
        self.sectors = dict(sectors or {})
        self.halted = False
        self.halt_code: RejectReason | None = None
        self.halt_detail = ""
        self._recent: deque[float] = deque()
        self._resumed: tuple[object, float] | None = None

    def halt(self, code: RejectReason, detail: str) -> None:
        self.halted, self.halt_code, self.halt_detail = True, code, detail

    def resume(self, book: Portfolio | None = None) -> None:
        """Clear the halt. With ``book``, the loss already taken today is accepted: the daily limit
        then trips again only after a further ``max_daily_loss`` on the same day."""
        self.halted, self.halt_code, self.halt_detail = False, None, ""
        if book is not None:
            self._resumed = (book.day, self._daily_loss(book))

    @staticmethod
    def _daily_loss(book: Portfolio) -> float:
        start = book.day_start_equity
        return -book.daily_pnl / start if start > 0 else 0.0

    def check(self, order: Order, book: Portfolio, open_quantities: Mapping[str, float], now: datetime,
              multiplier: float = 1.0) -> RiskDecision:
        """Decide on ``order``; an accepted order counts towards the rate limit."""
        lim = self.limits
        sym = order.symbol
        before = book.quantity(sym) + open_quantities.get(sym, 0.0)
        after = before + order.signed_quantity
        increasing = abs(after) > abs(before) + EPS

        loss = self._daily_loss(book)
        accepted_loss = self._resumed[1] if self._resumed and self._resumed[0] == book.day else 0.0
        if not self.halted and loss >= accepted_loss + lim.max_daily_loss:
            self.halt(RejectReason.DAILY_LOSS_HALT, f"daily loss {loss:.2%} reached the limit "
                      f"{lim.max_daily_loss:.2%}; trading halted until an admin resumes")
        if self.halted and increasing:
            assert self.halt_code is not None
            return RiskDecision.reject(self.halt_code, f"{self.halt_detail}; only orders that reduce a position "
                                       "are accepted", daily_loss=loss, limit=lim.max_daily_loss)

        ts = now.timestamp()
        while self._recent and self._recent[0] <= ts - 1.0:
            self._recent.popleft()
        if len(self._recent) + 1 > lim.max_orders_per_second:
            return RiskDecision.reject(RejectReason.ORDER_RATE, f"more than {lim.max_orders_per_second:g} orders "
                                       "in one second", orders=len(self._recent) + 1, limit=lim.max_orders_per_second)

        mark = book.price(sym)
        if mark is None:
            return RiskDecision.reject(RejectReason.NO_MARKET_PRICE, f"no market price for {sym} to value the order")
        if order.limit_price is not None:
            dev = abs(order.limit_price / mark - 1.0)
            if dev > lim.max_limit_deviation:
                return RiskDecision.reject(RejectReason.LIMIT_FAR_FROM_MARKET,
                                           f"limit {order.limit_price:g} is {dev:.1%} from the market {mark:g} "
                                           f"(max {lim.max_limit_deviation:.0%})", limit_price=order.limit_price,
                                           market=mark, deviation=dev, limit=lim.max_limit_deviation)
        notional = order.quantity * mark * multiplier
        if notional > lim.max_order_notional:
            return RiskDecision.reject(RejectReason.ORDER_NOTIONAL, f"order notional {notional:,.2f} above the "
                                       f"limit {lim.max_order_notional:,.2f}", notional=notional,
                                       limit=lim.max_order_notional)

        if increasing:
            decision = self._exposure(order, book, open_quantities, after, mark * multiplier)
            if not decision.ok:
                return decision
            if lim.checks:
                decision = self._figure_checks()
                if not decision.ok:
                    return decision
        self._recent.append(ts)
        return OK

    def _figure_checks(self) -> RiskDecision:
        """The configured limits on the book's risk figures (:mod:`raytrade.risk.checks`), read from
        the figures last computed; missing or older than ``figures_max_age_s`` refuses (fail closed)."""
        f, lim = self.figures, self.limits
        age = (self.wall() - f.computed_at).total_seconds() if f is not None else None
        if age is None or age > lim.figures_max_age_s:
            said = "not computed yet" if age is None else f"{age:,.0f} s old"
            return RiskDecision.reject(RejectReason.RISK_FIGURES_STALE, f"the book's risk figures are {said} (max "
                                       f"{lim.figures_max_age_s:g} s): orders that add risk wait for fresh ones",
                                       limit=lim.figures_max_age_s, **({"age_s": age} if age is not None else {}))
        for check in lim.checks:
            decision = check.decide(f)
            if not decision.ok:
                return decision
        return OK

    def _exposure(self, order: Order, book: Portfolio, open_quantities: Mapping[str, float], after: float,
                  unit_value: float) -> RiskDecision:
        lim = self.limits
        equity = book.equity
        if equity <= 0:
            return RiskDecision.reject(RejectReason.GROSS_LEVERAGE, f"equity is {equity:,.2f}: no risk can be added",
                                       equity=equity)
        values: dict[str, float] = {}
        for s in set(book.positions) | set(open_quantities) | {order.symbol}:
            if s == order.symbol:
                values[s] = abs(after) * unit_value
            else:
                q = book.quantity(s) + open_quantities.get(s, 0.0)
                values[s] = abs(q) * (book.price(s) or 0.0) * book.multipliers.get(s, 1.0)
        w = values[order.symbol] / equity
        if w > lim.max_symbol_weight + EPS:
            return RiskDecision.reject(RejectReason.SYMBOL_LIMIT, f"{order.symbol} would be {w:.2%} of equity "
                                       f"(max {lim.max_symbol_weight:.2%})", weight=w, limit=lim.max_symbol_weight)
        sector = self.sectors.get(order.symbol)
        if sector:
            sw = sum(v for s, v in values.items() if self.sectors.get(s) == sector) / equity
            if sw > lim.max_sector_weight + EPS:
                return RiskDecision.reject(RejectReason.SECTOR_LIMIT, f"sector {sector} would be {sw:.2%} of equity "
                                           f"(max {lim.max_sector_weight:.2%})", weight=sw,
                                           limit=lim.max_sector_weight)
        gross = sum(values.values()) / equity
        if gross > lim.max_gross_leverage + EPS:
            return RiskDecision.reject(RejectReason.GROSS_LEVERAGE, f"gross leverage would be {gross:.2f}x "
                                       f"(max {lim.max_gross_leverage:.2f}x)", leverage=gross,
                                       limit=lim.max_gross_leverage)
        return OK

    def usage(self, book: Portfolio, open_quantities: Mapping[str, float]) -> dict[str, Any]:
        """Current use of each limit (for the API and dashboards)."""
        equity = book.equity
        per_symbol = {s: abs(book.quantity(s) + open_quantities.get(s, 0.0)) * (book.price(s) or 0.0)
                      * book.multipliers.get(s, 1.0) for s in set(book.positions) | set(open_quantities)}
        sectors: dict[str, float] = {}
        for s, v in per_symbol.items():
            if self.sectors.get(s):
                sectors[self.sectors[s]] = sectors.get(self.sectors[s], 0.0) + v  # type: ignore[index]
        scale = 1.0 / equity if equity > 0 else float("nan")
        return {"equity": equity, "halted": self.halted,
                "halt_code": self.halt_code.value if self.halt_code else None, "halt_detail": self.halt_detail,
                "daily_loss": self._daily_loss(book),
                "gross_leverage": sum(per_symbol.values()) * scale,
                "symbol_weights": {s: v * scale for s, v in sorted(per_symbol.items()) if v},
                "sector_weights": {s: v * scale for s, v in sorted(sectors.items())},
                "limits": self.limits.model_dump()}
