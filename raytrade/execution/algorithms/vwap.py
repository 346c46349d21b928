"""VWAP: slices along an intraday volume profile, so the parent trades as the market does.

A profile is the expected share of a day's volume in each of B equal buckets of the trading day:
the UTC day for crypto (24/7), the XNYS session (09:30-16:00 New York) for US equities. Each slice
of the parent gets the profile's mass over its interval of the day (fractions of buckets counted in
proportion); a horizon over several days takes each day's profile in turn.

- :func:`crypto_volume_profile` estimates a 24/7 profile from the bundled 5-minute bars: for each
  pair, its volume in each bucket of the UTC day over its complete days divided by its volume on
  those days, then the mean over the pairs (so coarser buckets are sums of finer ones);
- :func:`u_shape_profile` is the documented default for equities: w_k proportional to
  1 + depth x (2 x_k - 1)^2 at bucket centres x_k = (k + 0.5) / B, so with the default depth 2 the
  first and last buckets trade about 3x the midday one (the U shape of US equity volume);
- a user's own profile: any sequence of B >= 1 non-negative weights (e.g. read from a file).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import ClassVar, Literal
from zoneinfo import ZoneInfo

import numpy as np

from raytrade.core.errors import ConfigError
from raytrade.execution.algorithms.base import (
    ParentSpec,
    PlannedSchedule,
    register,
    slice_times,
    whole_lot_slices,
)

NEW_YORK = ZoneInfo("America/New_York")


def u_shape_profile(buckets: int = 78, depth: float = 2.0) -> np.ndarray:
    """The default equity profile (see the module): ``buckets`` weights summing to 1."""
    if buckets < 1 or depth < 0:
        raise ConfigError(f"u_shape_profile needs buckets >= 1 and depth >= 0, got {buckets}, {depth}")
    x = (np.arange(buckets) + 0.5) / buckets
    w = 1.0 + depth * (2.0 * x - 1.0) ** 2
    return w / w.sum()


@cache
def _default_profile(day: str) -> tuple[np.ndarray, np.ndarray]:
    """(profile, its cumulative sum from 0) of ``day``'s default profile, computed once."""
    prof = u_shape_profile() if day == "xnys" else crypto_volume_profile()
    prof = prof / prof.sum()
    cum = np.concatenate([[0.0], np.cumsum(prof)])
    prof.flags.writeable = cum.flags.writeable = False
    return prof, cum


@cache
def _crypto_profile(buckets: int) -> tuple[float, ...]:
    from raytrade.data.loaders import load_crypto

    vol = load_crypto(field="volume")
    bucket = ((vol.index.hour * 60 + vol.index.minute) * buckets) // (24 * 60)
    day = vol.index.normalize()
    shares = []
    for pair in vol.columns:
        v = vol[pair]
        complete = v.notna().groupby(day).transform("sum") == 288  # whole UTC days of this pair only
        v = v[complete.to_numpy()]
        shares.append(v.groupby(bucket[complete.to_numpy()]).sum().reindex(range(buckets), fill_value=0.0) / v.sum())
    prof = np.mean([s.to_numpy() for s in shares], axis=0)
    return tuple(prof / prof.sum())


def crypto_volume_profile(buckets: int = 288) -> np.ndarray:
    """The 24/7 profile of the bundled 5-minute crypto bars by bucket of the UTC day (sums to 1)."""
    if buckets < 1 or 288 % buckets:
        raise ConfigError(f"crypto profile buckets must divide 288 (5-minute bars), got {buckets}")
    return np.asarray(_crypto_profile(buckets))


@register
class VWAP(PlannedSchedule):
    """``slices`` slices at equal intervals, each sized by the profile's volume over its interval.
    ``profile``: weights over the day's buckets (default: the U shape for ``day="xnys"``, the
    bundled crypto profile for ``day="utc"``)."""

    name: ClassVar[str] = "vwap"

    def __init__(self, parent: ParentSpec, slices: int = 20, profile: Sequence[float] | None = None,
                 day: Literal["xnys", "utc"] = "xnys") -> None:
        if not isinstance(slices, int) or not 1 <= slices <= 10_000:
            raise ConfigError(f"vwap.slices must be an integer in [1, 10000], got {slices!r}")
        if day not in ("xnys", "utc"):
            raise ConfigError(f"vwap.day must be xnys or utc, got {day!r}")
        if profile is None:
            self.profile, self._cum = _default_profile(day)
        else:
            prof = np.asarray(profile, dtype=np.float64)
            if prof.ndim != 1 or len(prof) == 0 or not np.isfinite(prof).all() or (prof < 0).any() or prof.sum() <= 0:
                raise ConfigError("vwap.profile must be a non-empty list of finite weights >= 0, not all 0")
            self.profile = prof / prof.sum()
            self._cum = np.concatenate([[0.0], np.cumsum(self.profile)])
        self.parent, self.day = parent, day
        self.times = slice_times(parent, slices)
        weights = np.diff(self._cum_mass([*self.times, parent.end]))
        if weights.sum() <= 0:  # the horizon lies outside the trading day: equal slices
            weights = np.ones(slices)
        self.weights = weights / weights.sum()
        self.lots = whole_lot_slices(np.cumsum(self.weights), parent.lots)

    def _day_window(self, day: datetime) -> tuple[datetime, datetime]:
        if self.day == "utc":
            start = datetime.combine(day.date(), time(0), tzinfo=day.tzinfo)
            return start, start + timedelta(days=1)
        local = day.astimezone(NEW_YORK).date()
        return (datetime.combine(local, time(9, 30), tzinfo=NEW_YORK),
                datetime.combine(local, time(16, 0), tzinfo=NEW_YORK))

    def _frac(self, t: datetime, lo: datetime, hi: datetime) -> float:
        """The profile's cumulative mass at ``t`` within the day [lo, hi)."""
        x = min(max((t - lo) / (hi - lo), 0.0), 1.0) * len(self.profile)
        k = int(min(x, len(self.profile) - 1e-12))
        return float(self._cum[k] + (x - k) * self.profile[k]) if x < len(self.profile) else 1.0

    def _cum_mass(self, times: Sequence[datetime]) -> np.ndarray:
        """The profile's volume from the start of the first time's day to each of ``times``
        (non-decreasing), in days of volume: whole days before a time's own day count 1 each,
        its own day the profile's mass up to it. ``_mass(a, b)`` is the difference at b and a."""
        tz = UTC if self.day == "utc" else NEW_YORK
        first, last = times[0].astimezone(tz).date(), times[-1].astimezone(tz).date()
        n = len(self.profile)
        if first == last:  # one day (most parents): one window for every time
            lo, hi = self._day_window(times[0])
            ts = np.array([t.timestamp() for t in times])
            x = np.clip((ts - lo.timestamp()) / (hi - lo).total_seconds(), 0.0, 1.0) * n
            return np.interp(x, np.arange(n + 1, dtype=np.float64), self._cum)
        dates = [t.astimezone(tz).date() for t in times]
        windows: dict[date, tuple[float, float]] = {}
        for d in dict.fromkeys(dates):
            lo, hi = self._day_window(datetime.combine(d, time(12), tzinfo=tz))
            windows[d] = (lo.timestamp(), hi.timestamp())
        off = np.array([(d - first).days for d in dates], dtype=np.float64)
        lo_s = np.array([windows[d][0] for d in dates])
        hi_s = np.array([windows[d][1] for d in dates])
        ts = np.array([t.timestamp() for t in times])
        x = np.clip((ts - lo_s) / (hi_s - lo_s), 0.0, 1.0) * n
        return off + np.interp(x, np.arange(n + 1, dtype=np.float64), self._cum)

    def _mass(self, a: datetime, b: datetime) -> float:
        """The profile's volume between ``a`` and ``b``, summed over the days they span."""
        total, cursor = 0.0, a
        while cursor < b:
            lo, hi = self._day_window(cursor)
            if cursor >= hi:  # after this day's session: the next day
                cursor = datetime.combine((cursor.astimezone(lo.tzinfo) + timedelta(days=1)).date(), time(0),
                                          tzinfo=lo.tzinfo)
                continue
            end = min(b, hi)
            total += self._frac(end, lo, hi) - self._frac(max(cursor, lo), lo, hi)
            cursor = hi if end == hi else b
        return total
