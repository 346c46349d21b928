"""Every route of the API documents its success body as a named model (no bare ``dict``), so
``/openapi.json`` says what comes back and schemathesis (test_schemathesis.py) checks each body
against it."""

from __future__ import annotations

from typing import Any


def _refs(schema: dict[str, Any]) -> list[str]:
    if "$ref" in schema:
        return [schema["$ref"]]
    if schema.get("type") == "array":
        return _refs(schema["items"])
    return [r for s in schema.get("anyOf", []) for r in _refs(s)]


def test_every_route_declares_a_named_response_model() -> None:
    from raytrade.serve.api import app

    spec = app.openapi()
    routes = 0
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            ok = [c for c in op["responses"] if c.startswith("2")]
            assert ok, (method, path)
            schema = op["responses"][ok[0]]["content"]["application/json"]["schema"]
            refs = _refs(schema)
            assert refs and all(r.startswith("#/components/schemas/") for r in refs), (method, path, schema)
            routes += 1
    assert routes >= 23
    risk = spec["components"]["schemas"]["RiskStatus"]["properties"]
    assert {"limits", "figures", "halted", "symbol_weights"} <= set(risk)


def test_the_models_read_what_the_engine_answers() -> None:
    """The order view of a refused request that echoes a malformed field, a risk status with
    extra checks, and a strategy row with a runner all validate (a model stricter than the engine
    would turn a good answer into a 500)."""
    from raytrade.risk.limits import RiskLimits
    from raytrade.serve.responses import EngineStatus, OrderView, RiskStatus

    OrderView.model_validate({"client_order_id": "x", "symbol": 12, "quantity": "ten", "status": "rejected",
                              "principal": "k", "filled_quantity": 0.0, "remaining_quantity": 0.0,
                              "avg_fill_price": None, "reject_code": "INVALID_ORDER", "reject_detail": "bad",
                              "updated_at": "2024-01-01T00:00:00+00:00"})
    limits = RiskLimits.model_validate({"checks": [{"kind": "var", "max": 0.02}]}).model_dump(mode="json")
    status = RiskStatus.model_validate({"equity": 1.0, "halted": False, "halt_code": None, "halt_detail": "",
                                        "daily_loss": 0.0, "gross_leverage": 0.0, "symbol_weights": {},
                                        "sector_weights": {}, "limits": limits, "figures": None})
    assert status.model_dump(mode="json")["limits"]["checks"] == [{"kind": "var", "max": 0.02, "horizon": "1d"}]
    EngineStatus.model_validate({"running": True, "halted": False, "halt_detail": "", "strategies": {
        "ma": {"running": True, "orders": 1, "open_orders": 0, "rejected": 0, "positions": {"KO": 5.0}, "pnl": 1.0,
               "spec": {"strategy": "ma_crossover"}, "runner": {"error": "ActorDiedError: x"}}}})
