"""The REST API: a Ray Serve deployment with a FastAPI ingress in front of the engine's actors.

Authentication: ``Authorization: Bearer rtk_<id>.<secret>`` (or ``X-API-Key``); 401 when the key
is missing, malformed, unknown or revoked, 403 when its role is too low (viewer reads, trader
sends and cancels orders, admin halts, resumes, starts, stops and changes limits). Every mutating
request reaches the log with the key's id as the acting principal (``key:<id>``). Each key has a
token bucket (``rate_per_s``, ``burst``; a key created with its own rate uses that) per replica;
past it, 429 with ``Retry-After``.

Errors are JSON ``{"error": CODE, "detail": ..., ...}``: 4xx for the client's mistakes (422 names
the field; an order refused by validation, risk or compliance is 422 with its reason code and the
order), 404 for unknown ids, 409 for an order that cannot be cancelled any more, 503 when the
engine or a dependency cannot be reached (fail closed: STORE_UNAVAILABLE, ...). Never a 500 for a
client's input.

(No ``from __future__ import annotations`` here: Serve's class-based FastAPI views resolve the
route annotations at run time, and string annotations would not resolve.)
"""

import asyncio
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator
from typing import Any

import ray
from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from ray import serve
from starlette.exceptions import HTTPException as StarletteHTTPException

from raytrade.actors.base import CallBatcher
from raytrade.actors.client import OrderClient
from raytrade.actors.metrics import metrics
from raytrade.actors.portfolio import SNAPSHOT as PORTFOLIO_SNAPSHOT
from raytrade.cluster import NAMESPACE
from raytrade.core.enums import EventType
from raytrade.core.errors import (
    ClusterError,
    DomainError,
    RaytradeError,
    StoreError,
    StoreOutcomeUnknownError,
)
from raytrade.serve.deps import register
from raytrade.serve.keys import ApiKey, KeyRing, Role
from raytrade.serve.routers import ROUTERS
from raytrade.serve.schemas import (
    _ERRORS,
    RETRY_AFTER_S,
    WS_RATE_LIMITED,
    ApiConfig,
    ApiError,
    ServeFile,
)
from raytrade.storage import EventBus, EventStore, RedisCache

app = FastAPI(title="raytrade API", version="0.1.0", responses=_ERRORS,
              description="Orders, portfolio, risk and compliance of a raytrade engine. Authenticate with "
                          "`Authorization: Bearer rtk_<id>.<secret>` (`raytrade keys create`).")


class LatencyMiddleware:
    """api_latency_ms by route template (not the raw path: ids would explode the label set).

    A plain ASGI middleware: Starlette's ``@app.middleware("http")`` runs every request through a
    task group and memory streams."""

    def __init__(self, asgi: Any) -> None:
        self.app = asgi

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t = time.perf_counter()
        status = 500  # what the client gets when the app raises before it answers

        async def send_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")  # set on this scope by the router once it matched
            metrics().api_latency_ms.observe((time.perf_counter() - t) * 1000, {
                "route": getattr(route, "path", "unmatched"), "method": scope["method"], "status": str(status)})


app.add_middleware(LatencyMiddleware)
for _router in ROUTERS:
    app.include_router(_router)


class Snapshot:
    """One portfolio snapshot, as data or as its JSON text, each made from the other at most once
    (a snapshot shared by the readers of one actor call is encoded once for all of them)."""

    __slots__ = ("_body", "_data")

    def __init__(self, data: dict[str, Any] | None = None, body: bytes | None = None) -> None:
        self._data, self._body = data, body

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            self._data = json.loads(self._body or b"null")
        return self._data

    def body(self) -> bytes:
        if self._body is None:
            self._body = json.dumps(self._data, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
        return self._body


@app.exception_handler(ApiError)
async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
    headers = {"Retry-After": str(exc.extra.pop("retry_after"))} if "retry_after" in exc.extra else None
    return JSONResponse({"error": exc.error, "detail": exc.detail, **exc.extra}, status_code=exc.status,
                        headers=headers)


@app.exception_handler(RequestValidationError)
async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0]
    if first.get("type") == "json_invalid":  # its loc is (body, character offset): the body is the field
        at = first["loc"][-1] if len(first["loc"]) > 1 else None
        where = f" at character {at}" if isinstance(at, int) else ""
        return JSONResponse({"error": "INVALID_REQUEST", "field": "body",
                             "detail": f"the body is not valid JSON{where}: {first['msg']}", "errors": 1},
                            status_code=422)
    field = ".".join(str(p) for p in first["loc"] if p != "body") or "body"
    return JSONResponse({"error": "INVALID_REQUEST", "field": field, "detail": first["msg"],
                         "errors": len(exc.errors())}, status_code=422)


@app.exception_handler(StarletteHTTPException)
async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    """FastAPI's own refusals (a body that is not UTF-8, an unknown route) in the API's error shape."""
    if exc.status_code == 400:  # FastAPI could not read the body at all
        return JSONResponse({"error": "INVALID_REQUEST", "field": "body",
                             "detail": f"the body cannot be read as JSON text: {exc.detail}"}, status_code=422)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
    return JSONResponse({"error": code, "detail": str(exc.detail)}, status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


def _server_side(exc: RaytradeError) -> tuple[int, str] | None:
    """(status, code) of an error that is the server's, not the client's; None for a client's."""
    if isinstance(exc, StoreOutcomeUnknownError):
        return 503, "OUTCOME_UNKNOWN"
    if isinstance(exc, StoreError):
        return 503, "STORE_UNAVAILABLE"
    if isinstance(exc, ClusterError):
        return 503, "ENGINE_UNAVAILABLE"
    return None


@app.exception_handler(RaytradeError)
async def _raytrade_error(_: Request, exc: RaytradeError) -> JSONResponse:
    server = _server_side(exc)
    if server is not None:
        return JSONResponse({"error": server[1], "detail": str(exc)}, status_code=server[0],
                            headers={"Retry-After": str(RETRY_AFTER_S)})
    return JSONResponse({"error": "INVALID_REQUEST", "detail": str(exc)}, status_code=422)


@app.exception_handler(Exception)
async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    """A fault of raytrade's (a bug): 500 with the exception's kind, never a traceback."""
    return JSONResponse({"error": "INTERNAL", "detail": f"internal error ({type(exc).__name__}); it is ours, "
                                                          "not your request's"}, status_code=500)


class TokenBucket:
    """Requests per key: ``rate`` tokens a second up to ``burst``; a key with its own rate refills
    at that rate and holds the larger of ``burst`` and one second of it."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens: dict[str, tuple[float, float]] = {}

    def take(self, key: str, rate: float | None = None) -> float:
        """0 when a token was taken, else the seconds until one is free."""
        burst = float(self.burst) if rate is None else max(float(self.burst), rate)
        rate = self.rate if rate is None else rate
        now = time.monotonic()
        tokens, at = self.tokens.get(key, (burst, now))
        tokens = min(burst, tokens + (now - at) * rate)
        if tokens >= 1:
            self.tokens[key] = (tokens - 1, now)
            return 0.0
        self.tokens[key] = (tokens, now)
        return (1 - tokens) / rate


# Log record types (and the portfolio's derived updates) -> WebSocket event types.
WS_EVENTS = {"order_accepted": "order_update", "order_rejected": "order_update", "order_cancelled": "order_update",
             "order_cancel_requested": "order_update",
             "order_expired": "order_update", "order_replaced": "order_update", "fill": "trade_update",
             "position_update": "position_update", "performance_update": "performance_update",
             "trading_halted": "risk_halt", "trading_resumed": "risk_halt", "violation": "compliance_violation"}
WS_TYPES = sorted(set(WS_EVENTS.values()))
WS_SLOW = 4008
LOG_RECORD_TYPES = frozenset(t.value for t in EventType)  # bus messages that are log records (not derived updates)
BUS_RETRY_S, GAP_CHECK_S, TAIL_EVERY_S = 2.0, 1.0, 0.2
WS_UNAUTHENTICATED, WS_FORBIDDEN = 4401, 4403


def _message_symbol(msg: dict[str, Any]) -> str | None:
    p = msg.get("payload") or {}
    for part in (msg, p, p.get("order") or {}, p.get("fill") or {}, p.get("request") or {}):
        if isinstance(part, dict) and isinstance(part.get("symbol"), str):
            return part["symbol"]
    return None


class WsClient:
    """One WebSocket connection: its filters, its bounded queue and its own message counter."""

    def __init__(self, events: set[str], symbols: set[str], size: int) -> None:
        self.events, self.symbols = events, symbols
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=size)
        self.seq = 0
        self.overflowed = False

    def wants(self, ws_type: str, symbol: str | None) -> bool:
        return ws_type in self.events and (not self.symbols or symbol is None or symbol in self.symbols)

    def offer(self, message: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True


def _csv(value: str | None, allowed: list[str] | None = None) -> set[str]:
    items = {v.strip() for v in (value or "").split(",") if v.strip()}
    if allowed is not None:
        bad = sorted(items - set(allowed))
        if bad:
            raise DomainError(f"unknown event type {bad[0]!r} (known: {', '.join(allowed)})")
    return items


@serve.deployment(ray_actor_options={"num_cpus": 0}, max_ongoing_requests=200)
@serve.ingress(app)
class ApiGateway:
    def __init__(self, config: ApiConfig) -> None:
        self.config = config
        self.engine = config.engine
        self.keys = KeyRing()
        self.bucket = TokenBucket(config.rate_per_s, config.burst)
        self.cache = RedisCache(self.engine.resolved_redis_url(), prefix=f"raytrade:{self.engine.name}:")
        self._store: EventStore | None = None
        self._keys_read_at = 0.0
        self._keys_lock = asyncio.Lock()
        self._ws_clients: set[WsClient] = set()
        self._fanout: asyncio.Task[None] | None = None
        self._handles: dict[str, Any] = {}
        self._order_client: OrderClient | None = None
        self._snapshots = CallBatcher(self._snapshot_for, max_batch=10_000)
        self._signal_model: Any = None
        register(self)   # the routes (raytrade.serve.routers) reach this replica's state through it
        if config.start_engine:
            from raytrade.actors.engine import TradingEngine

            TradingEngine(self.engine, detached=True).start(principal="serve")

    # --- plumbing ----------------------------------------------------------------------------

    def actor(self, role: str) -> Any:
        """The engine actor's handle (looked up once, again after it failed to answer)."""
        if role not in self._handles:
            try:
                self._handles[role] = ray.get_actor(self.engine.actor_name(role), namespace=NAMESPACE)
            except ValueError:
                raise ApiError(503, "ENGINE_UNAVAILABLE", f"the engine's {role} actor is not running") from None
        return self._handles[role]

    def order_client(self) -> OrderClient:
        """Concurrent POST /api/orders of this replica go to the order manager in batches."""
        if self._order_client is None:
            self._order_client = OrderClient(self.actor("orders"))
        return self._order_client

    async def snapshot(self) -> dict[str, Any]:
        """The portfolio's snapshot (:meth:`shared_snapshot`) as data."""
        return (await self.shared_snapshot()).data

    async def shared_snapshot(self) -> Snapshot:
        """The snapshot the portfolio actor last wrote to Redis (after each batch of fills and
        marks it applied, and at least every ``SNAPSHOT_REFRESH_S``), else, without Redis or when
        it holds none, the actor's own. Concurrent actor readers share calls: a reader that
        arrives while a call is in flight joins the next one, which starts after it arrived, so
        50 polling clients cost a handful of actor calls, not 50 (each call is a Ray round trip
        and CPU on both sides: ``benchmarks/api_load.py``)."""
        shared: Snapshot = await self._snapshots.submit(None)
        return shared

    async def _snapshot_for(self, readers: list[None]) -> list[Snapshot]:
        body = await self.cache.get_json(PORTFOLIO_SNAPSHOT) if self.cache.url else None
        shared = Snapshot(body=body) if body is not None else Snapshot(data=await self.call("portfolio", "snapshot"))
        return [shared] * len(readers)

    async def call(self, role: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return await self.answer(role, getattr(self.actor(role), method).remote(*args, **kwargs))

    async def answer(self, role: str, pending: Any) -> Any:
        """Await an engine call; its domain errors re-raised, an actor that does not answer a 503."""
        try:
            return await asyncio.wait_for(pending, self.config.call_timeout_s)
        except ray.exceptions.RayTaskError as exc:
            # The original exception (``cause``): its message alone. as_instanceof_cause() would
            # carry the remote traceback (pid, node, paths) into the client's answer.
            cause = exc.cause
            if isinstance(cause, ClusterError):  # a front actor whose order manager did not answer
                self._handles.pop(role, None)
                raise ApiError(503, "ENGINE_UNAVAILABLE", str(cause), retry_after=RETRY_AFTER_S) from None
            if isinstance(cause, RaytradeError):
                raise cause from None
            raise ApiError(500, "INTERNAL", f"the engine's {role} actor failed ({type(cause).__name__}); it is "
                                            "ours, not your request's") from None
        except (TimeoutError, ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError) as exc:
            self._handles.pop(role, None)
            if role == "orders":
                self._order_client = None
            raise ApiError(503, "ENGINE_UNAVAILABLE", f"the engine's {role} actor did not answer: "
                                                      f"{type(exc).__name__}", retry_after=RETRY_AFTER_S) from None

    async def store(self) -> EventStore:
        if self._store is None:
            store = self.engine.open_store()
            await store.open()
            self._store = store
        return self._store

    async def refresh_keys(self, force: bool = False) -> None:
        """Read key events appended since the last read: at most once a second, or now when
        ``force`` (a token this replica does not know: a key created a moment ago must work at
        once). Either way a read that started after this call was made covers it, so concurrent
        callers share reads, and a flood of unknown tokens costs one read at a time, not one each."""
        asked = time.monotonic()
        if not force and asked - self._keys_read_at < 1.0:
            return
        async with self._keys_lock:
            if self._keys_read_at >= asked:
                return
            started = time.monotonic()
            store = await self.store()
            for r in await store.read(self.keys.last_sequence + 1, types=[EventType.KEY_CREATED,
                                                                          EventType.KEY_REVOKED]):
                self.keys.apply(r.event)
            self._keys_read_at = started

    async def authenticate(self, token: str | None, role: Role) -> ApiKey:
        if not token:
            raise ApiError(401, "UNAUTHENTICATED", "an API key is required (Authorization: Bearer rtk_...)")
        try:
            await self.refresh_keys(force=not self.keys.known(token))
        except RaytradeError as exc:
            raise ApiError(503, "STORE_UNAVAILABLE", f"cannot read the API keys: {exc}") from None
        key = self.keys.verify(token)
        if key is None:
            raise ApiError(401, "UNAUTHENTICATED", "unknown, malformed or revoked API key")
        if key.role < role:
            raise ApiError(403, "FORBIDDEN", f"key {key.key_id} has role {key.role.name.lower()}; this needs "
                                             f"{role.name.lower()}")
        wait = self.bucket.take(key.key_id, key.rate_per_s)
        if wait:
            rate = key.rate_per_s or self.config.rate_per_s
            raise ApiError(429, "RATE_LIMITED", f"more than {rate:g} requests per second for key {key.key_id}",
                           retry_after=max(1, math.ceil(wait)))
        return key

    # --- WebSocket ---------------------------------------------------------------------------

    async def _fan_out(self) -> None:
        """This replica's one feed of engine events, copied to its clients' queues.

        Without Redis: the event store's tail. With Redis: its pub/sub, with the store as the
        truth behind it. When Redis drops, the feed follows the store's tail from the last record
        it delivered and tries Redis again every ``BUS_RETRY_S``; once subscribed again it first
        catches up from the store (subscribe, then read: nothing falls between), skipping on the
        bus what the store already gave. While the bus is silent the feed compares the store's
        head with what it delivered every ``GAP_CHECK_S`` and fills any gap from the store (an
        engine whose own Redis connection was still down published those records nowhere)."""
        if not self.cache.url:
            async for msg in self._store_tail():
                self._deliver(msg)
            return
        store = await self.store()
        last = (await store.head())[0]  # the newest log record delivered
        from_store = 0                  # records up to here came from the store: their bus copies are skipped
        tailing = False
        while True:
            pubsub = None
            try:
                pubsub = self.cache.pubsub()
                await pubsub.subscribe(EventBus(self.cache).channel)
                if tailing:
                    last = from_store = await self._deliver_from_store(store, last)
                    tailing = False
                quiet_since = time.monotonic()
                while True:
                    raw = await pubsub.get_message(ignore_subscribe_messages=True, timeout=GAP_CHECK_S)
                    if raw is None or raw.get("type") != "message":
                        if time.monotonic() - quiet_since >= GAP_CHECK_S and (await store.head())[0] > last:
                            last = from_store = await self._deliver_from_store(store, last)
                        quiet_since = time.monotonic()
                        continue
                    quiet_since = time.monotonic()
                    msg = json.loads(raw["data"])
                    seq = msg.get("sequence") if msg.get("type") in LOG_RECORD_TYPES else None
                    if isinstance(seq, int):
                        if seq <= from_store:
                            continue
                        last = max(last, seq)
                    self._deliver(msg)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis (or, while catching up, the store) dropped
                if not tailing:
                    print(f"raytrade API: event bus unavailable ({type(exc).__name__}); following the event store",
                          flush=True)
                tailing = True
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()
            with contextlib.suppress(Exception):
                last = min(last, (await store.head())[0])  # a bus message may carry any number
            deadline = time.monotonic() + BUS_RETRY_S
            while time.monotonic() < deadline:
                with contextlib.suppress(RaytradeError):  # the store down as well: nothing to deliver, nothing lost
                    last = from_store = await self._deliver_from_store(store, last)
                await asyncio.sleep(TAIL_EVERY_S)

    def _deliver(self, msg: dict[str, Any]) -> None:
        ws_type = WS_EVENTS.get(str(msg.get("type")))
        if ws_type is None:
            return
        symbol = _message_symbol(msg)
        for client in list(self._ws_clients):
            if client.wants(ws_type, symbol):
                client.offer({"type": ws_type, "sequence": msg.get("sequence"), "data": msg})

    async def _deliver_from_store(self, store: EventStore, last: int) -> int:
        """Deliver the log's records after ``last`` (and the updates they imply); the new last."""
        async for msg in self._records_after(store, last):
            self._deliver(msg)
            if msg.get("type") in LOG_RECORD_TYPES:
                last = max(last, int(msg["sequence"]))
        return last

    async def _records_after(self, store: EventStore, last: int) -> AsyncIterator[dict[str, Any]]:
        """The log's records after ``last`` and, after fills, the position and performance updates
        the portfolio actor would have published."""
        records = await store.read(last + 1)
        if not records:
            return
        last = records[-1].sequence
        fills = []
        for r in records:
            yield r.to_json()
            if r.event.type is EventType.FILL:
                fills.append(r.event.payload["fill"]["symbol"])
        if fills:
            snap = await self.snapshot()
            by_symbol = {p["symbol"]: p for p in snap["positions"]}
            for sym in dict.fromkeys(fills):
                yield {"type": "position_update", "sequence": last, "symbol": sym, "position": by_symbol.get(sym)}
            keys = ("equity", "cash", "realized_pnl", "unrealized_pnl", "daily_pnl", "gross_leverage")
            yield {"type": "performance_update", "sequence": last, **{k: snap[k] for k in keys}}

    async def _store_tail(self, every_s: float = TAIL_EVERY_S) -> AsyncIterator[dict[str, Any]]:
        """Without Redis (a laptop): new log records every ``every_s`` (:meth:`_records_after`)."""
        store = await self.store()
        last = (await store.head())[0]
        while True:
            await asyncio.sleep(every_s)
            async for msg in self._records_after(store, last):
                if msg.get("type") in LOG_RECORD_TYPES:
                    last = max(last, int(msg["sequence"]))
                yield msg

    @app.websocket("/ws")
    async def websocket(self, ws: WebSocket, token: str | None = None, events: str | None = None,
                        symbols: str | None = None) -> None:
        """Engine events as they happen: ``/ws?token=rtk_...&events=order_update,trade_update&symbols=KO``.

        Messages are ``{"type", "seq", "sequence", "data"}``: ``seq`` counts this connection's
        messages from 1 without gaps (a gap cannot happen silently: a client that falls
        ``ws_queue`` events behind is closed with code 4008), ``sequence`` is the log's, to
        re-read over REST. A heartbeat comes every ``ws_heartbeat_s``. Send
        ``{"action": "subscribe", "events": [...], "symbols": [...]}`` to change the filters.
        Events come from Redis pub/sub when ``RAYTRADE_REDIS_URL`` is set (every replica serves
        any client), else from the event store's tail, polled every 0.2 s.
        Close codes: 4401 bad key, 4403 role, 4429 rate limit of the key (retry later), 4400 bad
        filter, 4008 slow consumer. If Redis drops, events keep coming from the event store (see
        :meth:`_fan_out`).
        """
        await ws.accept()
        header = ws.headers.get("authorization", "")
        token = token or (header[7:].strip() if header.lower().startswith("bearer ") else None)
        try:
            await self.authenticate(token, Role.VIEWER)
        except ApiError as exc:
            code = {403: WS_FORBIDDEN, 429: WS_RATE_LIMITED}.get(exc.status, WS_UNAUTHENTICATED)
            await ws.close(code=code, reason=exc.detail[:120])
            return
        try:
            client = WsClient(_csv(events, WS_TYPES) or set(WS_TYPES), _csv(symbols), self.config.ws_queue)
        except ValueError as exc:
            await ws.close(code=4400, reason=str(exc)[:120])
            return
        if self._fanout is None or self._fanout.done():
            self._fanout = asyncio.create_task(self._fan_out())
        self._ws_clients.add(client)
        self._ws_gauge()

        async def send(message: dict[str, Any]) -> None:
            client.seq += 1
            await ws.send_json({**message, "seq": client.seq})

        async def sender() -> None:
            await send({"type": "subscribed", "events": sorted(client.events), "symbols": sorted(client.symbols)})
            while True:
                try:
                    message = await asyncio.wait_for(client.queue.get(), self.config.ws_heartbeat_s)
                except TimeoutError:
                    message = {"type": "heartbeat", "time": time.time()}
                if client.overflowed:
                    await ws.close(code=WS_SLOW, reason=f"slow consumer: more than {self.config.ws_queue} "
                                                        "events behind; re-read over REST and reconnect")
                    return
                await send(message)

        async def receiver() -> None:
            while True:
                msg = await ws.receive_json()
                if isinstance(msg, dict) and msg.get("action") == "subscribe":
                    try:
                        client.events = set(_csv(",".join(msg.get("events") or []), WS_TYPES)) or set(WS_TYPES)
                        client.symbols = set(msg.get("symbols") or [])
                    except (ValueError, TypeError) as exc:
                        await ws.close(code=4400, reason=str(exc)[:120])
                        return
                    client.offer({"type": "subscribed", "events": sorted(client.events),
                                  "symbols": sorted(client.symbols)})

        tasks = [asyncio.create_task(sender()), asyncio.create_task(receiver())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
                if t.done() and not t.cancelled():
                    t.exception()  # a closed connection ends its loop with an exception: expected
            self._ws_clients.discard(client)
            self._ws_gauge()

    def _ws_gauge(self) -> None:
        replica = serve.get_replica_context().replica_id.unique_id
        metrics().ws_clients.set(len(self._ws_clients), {"replica": replica})

    def check_health(self) -> None:
        """Serve's health check: the replica is alive; dependencies are reported by /api/health/ready."""


def build(config: ApiConfig) -> Any:
    """The Serve application for ``config``."""
    return ApiGateway.bind(config)


def app_builder(args: dict[str, Any]) -> Any:
    """Serve's application builder (``import_path: raytrade.serve.api:app_builder``): ``args`` are
    the fields of :class:`ApiConfig`, as in a Serve config file or a RayService's serveConfigV2."""
    return build(ApiConfig.model_validate(args))


__all__ = ["ApiConfig", "ApiError", "ApiGateway", "ServeFile", "app", "app_builder", "build"]
