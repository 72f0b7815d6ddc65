"""Demand forecast per SKU from its daily units, with statsforecast, chosen by a backtest.

Every SKU is forecast by "same as last week" (SeasonalNaive, season 7: the baseline) and
by the models that suit its kind of demand:

    smooth       sells most days         AutoETS (weekly season; error and season
                                          additive or multiplicative, no trend, on the
                                          last 26 weeks so the level follows a trend)
    intermittent sells now and then      CrostonOptimized and TSB
                 (ADI > 1.32, Syntetos–Boylan)

The model kept for a SKU is the one with the smallest error in a rolling-origin backtest
(statsforecast's cross_validation: four one-week windows, the last four weeks), measured
as RMSSE — squared errors scaled by the in-sample error of "same as last week" (the M5
competition's measure, made for retail demand that has many zero days: an absolute-error
measure would prefer forecasting nothing for a SKU that sells once a week). Each SKU
also keeps its MASE and the baseline's MASE over the same windows: what a person reads
to see whether the forecast beats "same as last week".

Nothing here touches the database: `forecast_all` takes {sku: DailySeries} and returns
SkuForecast results (fulfil.stock.jobs stores them). numpy, pandas and statsforecast are
imported inside the functions, so the web app never loads them.
"""
import math
from dataclasses import dataclass, field
from datetime import date, timedelta

SEASON = 7
HORIZON = 28  # days forecast ahead: the chart and lead times up to four weeks
BACKTEST_H = 7
BACKTEST_WINDOWS = 4
# Fewer days than this since the first sale: no backtest, the forecast is the average.
MIN_HISTORY = 2 * SEASON + BACKTEST_H * BACKTEST_WINDOWS
ETS_DAYS = 182  # AutoETS sees the last 26 weeks (fits in ~15 ms instead of ~60 ms on two years)
INTERMITTENT_ADI = 1.32  # average days between sales above which demand is intermittent
TSB_ALPHAS = (0.1, 0.1)  # smoothing of demand size and of demand probability
BAND_LEVEL = 80
Z_BAND = 1.2816  # two-sided 80%

BASELINE = "SeasonalNaive"
MODEL_LABELS = {
    "SeasonalNaive": "Same as last week",
    "AutoETS": "Exponential smoothing with weekly pattern (ETS)",
    "CrostonOptimized": "Croston (sells now and then)",
    "TSB": "TSB (sells now and then, fading)",
    "Average": "Average of the days so far (too little history to test)",
    "NoSales": "No sales yet",
}


@dataclass
class DailySeries:
    """Units sold per day, one value a day from `start` to the day before the forecast."""
    start: date
    units: list

    @property
    def end(self):
        return self.start + timedelta(days=len(self.units) - 1)


@dataclass
class SkuForecast:
    sku: str
    model: str
    intermittent: bool
    start: date  # the first day forecast
    mean: list  # HORIZON values, units a day
    lo: list
    hi: list
    sigma: float  # typical daily error (RMSE in the backtest; the spread of the history without one)
    history_days: int
    mase: float | None = None
    baseline_mase: float | None = None
    scores: dict = field(default_factory=dict)  # model -> {"mase": .., "rmsse": ..}

    @property
    def daily_mean(self):
        return sum(self.mean) / len(self.mean) if self.mean else 0.0

    def demand_over(self, days):
        """Units expected in the next `days` days (past the horizon: its daily mean)."""
        days = max(0, int(math.ceil(days)))
        head = self.mean[:days]
        return sum(head) + max(0, days - len(head)) * self.daily_mean

    @property
    def beats_baseline(self):
        if self.mase is None or self.baseline_mase is None:
            return None
        return self.mase < self.baseline_mase or self.model == BASELINE


def trim_leading_zeros(series):
    """Days before the first sale say nothing about demand (the SKU was not listed yet)."""
    for index, value in enumerate(series.units):
        if value:
            return DailySeries(series.start + timedelta(days=index), list(series.units[index:]))
    return DailySeries(series.end + timedelta(days=1), [])


def is_intermittent(units):
    sold = sum(1 for u in units if u > 0)
    return sold == 0 or len(units) / sold > INTERMITTENT_ADI


def _band(mean, sigma):
    """80% band from the backtest's daily error, widening with the square root of how
    many weeks ahead (the backtest measured errors one week ahead)."""
    lo, hi = [], []
    for k, value in enumerate(mean, start=1):
        width = Z_BAND * sigma * math.sqrt(max(1.0, k / BACKTEST_H))
        lo.append(max(0.0, value - width))
        hi.append(value + width)
    return lo, hi


def _simple(sku, series, forecast_start):
    """No backtest possible: the average of the days since the first sale."""
    units = series.units
    if not units:
        mean = [0.0] * HORIZON
        return SkuForecast(sku, "NoSales", True, forecast_start, mean, mean[:], mean[:], 0.0, 0)
    average = sum(units) / len(units)
    sigma = math.sqrt(sum((u - average) ** 2 for u in units) / len(units))
    mean = [average] * HORIZON
    lo, hi = _band(mean, sigma)
    return SkuForecast(sku, "Average", is_intermittent(units), forecast_start, mean, lo, hi, sigma, len(units))


def forecast_all(series_by_sku, n_jobs=1):
    """{sku: DailySeries} (all ending the same day) -> {sku: SkuForecast}."""
    trimmed = {sku: trim_leading_zeros(s) for sku, s in series_by_sku.items()}
    ends = {s.end for s in series_by_sku.values() if s.units}
    if len(ends) > 1:
        raise ValueError("every series must end on the same day")
    if not ends:
        return {}
    forecast_start = ends.pop() + timedelta(days=1)
    results, smooth, sparse = {}, {}, {}
    for sku, series in trimmed.items():
        if len(series.units) < MIN_HISTORY:
            results[sku] = _simple(sku, series, forecast_start)
        elif is_intermittent(series.units):
            sparse[sku] = series
        else:
            smooth[sku] = series
    if smooth or sparse:
        from statsforecast.models import TSB, AutoETS, CrostonOptimized, SeasonalNaive

        if smooth:
            results.update(_select(smooth, [SeasonalNaive(SEASON), AutoETS(season_length=SEASON, model="ZNZ")],
                                   forecast_start, intermittent=False, last_days=ETS_DAYS, n_jobs=n_jobs))
        if sparse:
            results.update(_select(sparse, [SeasonalNaive(SEASON), CrostonOptimized(), TSB(*TSB_ALPHAS)],
                                   forecast_start, intermittent=True, last_days=None, n_jobs=n_jobs))
    return results


def _frame(series_by_sku, last_days):
    import numpy as np
    import pandas as pd

    ids, stamps, values = [], [], []
    for sku, series in series_by_sku.items():
        units = series.units[-last_days:] if last_days else series.units
        start = series.end - timedelta(days=len(units) - 1)
        ids.append(np.full(len(units), sku, dtype=object))
        stamps.append(pd.date_range(start, periods=len(units), freq="D").values)
        values.append(np.asarray(units, dtype="float64"))
    return pd.DataFrame({"unique_id": np.concatenate(ids), "ds": np.concatenate(stamps),
                         "y": np.concatenate(values)})


def _scales(frame, first_cutoff):
    """Per SKU: the in-sample mean absolute and mean squared error of "same as last week"
    before the backtest (MASE's and RMSSE's denominators)."""
    import numpy as np

    scales = {}
    train = frame[frame["ds"] <= first_cutoff]
    for sku, group in train.groupby("unique_id", sort=False):
        y = group["y"].to_numpy()
        diff = y[SEASON:] - y[:-SEASON]
        mae, mse = float(np.mean(np.abs(diff))), float(np.mean(diff ** 2))
        # A SKU that sold exactly the same every week: any error is large against that.
        floor = max(float(np.mean(y)), 1.0) * 1e-3
        scales[sku] = (max(mae, floor), max(mse, floor ** 2))
    return scales


def _select(series_by_sku, models, forecast_start, intermittent, last_days, n_jobs):
    import numpy as np
    from statsforecast import StatsForecast

    names = [m.alias for m in models]
    frame = _frame(series_by_sku, None)
    backtest_frame = frame if not last_days else frame.groupby("unique_id", sort=False).tail(
        last_days + BACKTEST_H * BACKTEST_WINDOWS)
    sf = StatsForecast(models=models, freq="D", n_jobs=n_jobs)
    # AutoETS is fitted once and rolled forward over the windows (refit=False); Croston
    # and TSB have no forward step and cost next to nothing to refit at every origin.
    cv = sf.cross_validation(h=BACKTEST_H, df=backtest_frame, n_windows=BACKTEST_WINDOWS,
                             step_size=BACKTEST_H, refit=not last_days)
    first_cutoff = cv["cutoff"].min()
    scales = _scales(frame, first_cutoff)
    chosen, scores, sigmas = {}, {}, {}
    for sku, group in cv.groupby("unique_id", sort=False):
        y = group["y"].to_numpy()
        mae_scale, mse_scale = scales[sku]
        per_model = {}
        for name in names:
            error = y - np.clip(group[name].to_numpy(), 0, None)
            per_model[name] = {"mase": round(float(np.mean(np.abs(error))) / mae_scale, 4),
                               "rmsse": round(math.sqrt(float(np.mean(error ** 2)) / mse_scale), 4),
                               "rmse": float(np.sqrt(np.mean(error ** 2)))}
        # Smallest RMSSE; a tie keeps the baseline (names[0]), the simplest.
        best = min(names, key=lambda n: (per_model[n]["rmsse"], n != BASELINE))
        chosen[sku], scores[sku], sigmas[sku] = best, per_model, per_model[best].pop("rmse")
        for name in names:
            per_model[name].pop("rmse", None)
    future_frame = frame if not last_days else frame.groupby("unique_id", sort=False).tail(last_days)
    future = sf.forecast(h=HORIZON, df=future_frame)
    results = {}
    for sku, group in future.groupby("unique_id", sort=False):
        name = chosen[sku]
        mean = [max(0.0, float(v)) for v in group[name].to_numpy()]
        lo, hi = _band(mean, sigmas[sku])
        results[sku] = SkuForecast(
            sku=sku, model=name, intermittent=intermittent, start=forecast_start, mean=mean, lo=lo, hi=hi,
            sigma=sigmas[sku], history_days=len(series_by_sku[sku].units),
            mase=scores[sku][name]["mase"], baseline_mase=scores[sku][BASELINE]["mase"], scores=scores[sku])
    return results
