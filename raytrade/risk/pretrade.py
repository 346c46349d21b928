"""Pre-trade risk: the checks of :class:`RiskLimits` (:mod:`raytrade.risk.checks`) applied to one
order, plus the state they need (halt, rate window, the book's last risk figures).

Order of work: a halted engine refuses orders that add risk; then the ``order``-phase checks
(daily loss, order rate); an order without a market price is refused; then the ``priced`` checks
(limit collar, notional) and, for risk-increasing orders only, the ``adds_risk`` ones (weights,
leverage, figures), so a position can always be reduced. The first refusal wins; it carries a
reason code and the numbers that triggered it. Conventions are the checks module's.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from raytrade.core.enums import RejectReason
from raytrade.core.orders import Order
from raytrade.core.portfolio import Portfolio
from raytrade.risk.checks import PHASES, CheckContext
from raytrade.risk.decision import OK, RiskDecision
from raytrade.risk.limits import RiskLimits

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
        self.set_limits(limits)

    def set_limits(self, limits: RiskLimits) -> None:
        """New limits; the halt, the rate window and the last figures stay."""
        self.limits, self.checks = limits, limits.pretrade_checks()
        self._phases: dict[str, list[Any]] = {phase: [c for c in self.checks if c.phase == phase] for phase in PHASES}

    def halt(self, code: RejectReason, detail: str) -> None:
        self.halted, self.halt_code, self.halt_detail = True, code, detail

    def resume(self, book: Portfolio | None = None) -> None:
        """Clear the halt. With ``book``, the loss already taken today is accepted: the daily limit
        then trips again only after a further ``max_daily_loss`` on the same day."""
        self.halted, self.halt_code, self.halt_detail = False, None, ""
        if book is not None:
            self._resumed = (book.day, self.daily_loss(book))

    @staticmethod
    def daily_loss(book: Portfolio) -> float:
        """Loss since the day's start / its starting equity (positive = a loss)."""
        start = book.day_start_equity
        return -book.daily_pnl / start if start > 0 else 0.0

    def accepted_loss(self, book: Portfolio) -> float:
        """The part of today's loss an admin accepted by resuming (0 on another day)."""
        return self._resumed[1] if self._resumed and self._resumed[0] == book.day else 0.0

    def orders_in_last_second(self, now: datetime) -> int:
        """Accepted orders in the second before ``now`` (drops older ones from the window)."""
        ts = now.timestamp()
        while self._recent and self._recent[0] <= ts - 1.0:
            self._recent.popleft()
        return len(self._recent)

    def check(self, order: Order, book: Portfolio, open_quantities: Mapping[str, float], now: datetime,
              multiplier: float = 1.0) -> RiskDecision:
        """Decide on ``order`` by every check of the limits in phase order (the first refusal wins);
        an accepted order counts towards the rate limit."""
        ctx = CheckContext(self, order, book, open_quantities, now, multiplier)
        decision = self._halt_gate(ctx)
        if decision.ok:
            decision = self._run(self._phases["order"], ctx)
        if decision.ok:
            decision = self._price_gate(ctx)
        if decision.ok:
            decision = self._run(self._phases["priced"], ctx)
        if decision.ok and ctx.increasing:
            decision = self._equity_gate(ctx)
            if decision.ok:
                decision = self._run(self._phases["adds_risk"], ctx)
        if decision.ok:
            self._recent.append(now.timestamp())
        return decision

    @staticmethod
    def _run(checks: list[Any], ctx: CheckContext) -> RiskDecision:
        """The first refusal of ``checks`` in order, else OK."""
        for check in checks:
            decision = check.decide(ctx)
            if not decision.ok:
                return decision
        return OK

    @staticmethod
    def _equity_gate(ctx: CheckContext) -> RiskDecision:
        """With no positive equity no risk can be added, whatever the limits."""
        if ctx.equity <= 0:
            return RiskDecision.reject(RejectReason.GROSS_LEVERAGE, f"equity is {ctx.equity:,.2f}: no risk can be "
                                       "added", equity=ctx.equity)
        return OK

    def _halt_gate(self, ctx: CheckContext) -> RiskDecision:
        """A halted engine refuses orders that add risk."""
        if self.halted and ctx.increasing:
            assert self.halt_code is not None
            return RiskDecision.reject(self.halt_code, f"{self.halt_detail}; only orders that reduce a position "
                                       "are accepted", daily_loss=self.daily_loss(ctx.book),
                                       limit=self.limits.max_daily_loss)
        return OK

    @staticmethod
    def _price_gate(ctx: CheckContext) -> RiskDecision:
        """An order without a market price cannot be valued."""
        if ctx.mark is None:
            return RiskDecision.reject(RejectReason.NO_MARKET_PRICE,
                                       f"no market price for {ctx.order.symbol} to value the order")
        return OK

    def usage(self, book: Portfolio, open_quantities: Mapping[str, float]) -> dict[str, Any]:
        """Current use of each limit (for the API and dashboards)."""
        equity = book.equity
        per_symbol = {s: abs(book.quantity(s) + open_quantities.get(s, 0.0)) * (book.price(s) or 0.0)
                      * book.multipliers.get(s, 1.0) for s in set(book.positions) | set(open_quantities)}
        sectors: dict[str, float] = {}
        for s, v in per_symbol.items():
            if sector := self.sectors.get(s):
                sectors[sector] = sectors.get(sector, 0.0) + v
        scale = 1.0 / equity if equity > 0 else float("nan")
        return {"equity": equity, "halted": self.halted,
                "halt_code": self.halt_code.value if self.halt_code else None, "halt_detail": self.halt_detail,
                "daily_loss": self.daily_loss(book),
                "gross_leverage": sum(per_symbol.values()) * scale,
                "symbol_weights": {s: v * scale for s, v in sorted(per_symbol.items()) if v},
                "sector_weights": {s: v * scale for s, v in sorted(sectors.items())},
                "limits": self.limits.model_dump()}
