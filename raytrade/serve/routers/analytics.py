"""The book's attribution and drawdowns, tax lots and tax-loss harvesting proposals."""

from typing import Any

from fastapi import APIRouter, Query
from pydantic import ValidationError

from raytrade.serve.deps import Gateway, ViewerKey
from raytrade.serve.schemas import (
    ApiError,
    AttributionReport,
    DrawdownReport,
    HarvestReport,
    TaxLotsReport,
)

router = APIRouter()


@router.get("/api/analytics/attribution", tags=["analytics"], response_model=AttributionReport)
async def attribution(key: ViewerKey, gw: Gateway) -> dict[str, Any]:
    """The book's P&L by sector, strategy and symbol, each with its share of the total and
    the Sharpe of its P&L, rebuilt from the event log at every session start and the current
    marks; the time-weighted return; the same figures as sentences
    ("Information Technology: +$15,000 (40% of returns, 2.1 Sharpe)")."""
    return await gw.call("orders", "attribution")


@router.get("/api/analytics/drawdowns", tags=["analytics"], response_model=DrawdownReport)
async def drawdowns(key: ViewerKey, gw: Gateway,
                    threshold: float = Query(0.05, ge=0.0, lt=1.0,
                                             description="smallest depth listed, a fraction (0.05 = 5%)")
                    ) -> dict[str, Any]:
    """Every drawdown of the book's time-weighted wealth (cash in and out taken out) deeper
    than ``threshold``: peak, trough, recovery (null while open), depth, days to trough and
    to recover, deepest first."""
    return await gw.call("orders", "drawdowns", threshold)


@router.get("/api/tax/lots", tags=["tax"], response_model=TaxLotsReport)
async def tax_lots(key: ViewerKey, gw: Gateway,
                   year: int | None = Query(None, ge=1900, le=2999, description="closed pieces sold in this year")
                   ) -> dict[str, Any]:
    """The account's open tax lots (adjusted basis, holding-period start, unrealised gain at
    the mark, the term a sale now would have) and closed pieces (gain, term, loss disallowed
    by a wash sale), with totals: one ledger, the one compliance reads."""
    return await gw.call("orders", "tax_lots", year)


@router.get("/api/tax/harvest", tags=["tax"], response_model=HarvestReport)
async def tax_harvest(key: ViewerKey, gw: Gateway,
                      min_loss: float | None = Query(None, description="currency; default 1,000"),
                      min_loss_fraction: float | None = Query(None, description="of the basis sold; default 0.05"),
                      short_rate: float | None = Query(None, description="default 0.37"),
                      long_rate: float | None = Query(None, description="default 0.20"),
                      min_correlation: float | None = Query(None, description="of the substitute; default 0.5")
                      ) -> dict[str, Any]:
    """Tax-loss harvesting proposals: lots at a loss whose sale would not be a wash sale,
    the loss, the tax benefit at the rates, and a correlated same-sector substitute. Nothing
    is traded: proposals become orders only when submitted (tagged with the harvest strategy)."""

    from raytrade.analytics.harvest import HarvestConfig
    from raytrade.configfile import describe_validation_error

    given = {k: v for k, v in (("min_loss", min_loss), ("min_loss_fraction", min_loss_fraction),
                               ("short_rate", short_rate), ("long_rate", long_rate),
                               ("min_correlation", min_correlation)) if v is not None}
    try:
        HarvestConfig(**given)
    except ValidationError as exc:
        raise ApiError(422, "INVALID_REQUEST", describe_validation_error(exc, "query"),
                       field=f"query.{exc.errors()[0]['loc'][0]}") from None
    return await gw.call("orders", "tax_harvest", given)
