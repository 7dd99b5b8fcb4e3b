"""Run backtesting.py on the bench's hourly bars: the SMA 10/30 crossover with a fixed 20-pip stop,
market orders at the next bar's open, no costs (run by bench/backtest.py in its own process).

    python backtesting_run.py BARS.parquet

Prints one JSON line: wall_s (imports and loading included), load_s, loop_s (Backtest.run), bars,
trades.
"""

from __future__ import annotations

import json
import sys
import time
import warnings

t0 = time.perf_counter()

import pandas as pd  # noqa: E402
from backtesting import Backtest, Strategy  # noqa: E402
from backtesting.lib import crossover  # noqa: E402
from backtesting.test import SMA  # noqa: E402

STOP = 0.0020


class SmaCross(Strategy):  # type: ignore[misc]
    fast = 10
    slow = 30

    def init(self) -> None:
        self.a = self.I(SMA, self.data.Close, self.fast)
        self.b = self.I(SMA, self.data.Close, self.slow)

    def next(self) -> None:
        close = self.data.Close[-1]
        if crossover(self.a, self.b):
            self.close_all()
            self.buy(sl=round(close - STOP, 5))
        elif crossover(self.b, self.a):
            self.close_all()
            self.sell(sl=round(close + STOP, 5))

    def close_all(self) -> None:
        """Close at the next open: the stop is removed first, or backtesting.py would check it before
        the close and end the trade at the stop inside a bar that opened past it (as in
        tests/integration/test_cross_engine.py, whose trade list equals Octet's)."""
        for trade in self.trades:
            trade.sl = None
            trade.close()


def main(path: str) -> None:
    frame = pd.read_parquet(path)
    df = pd.DataFrame({"Open": frame["open"].to_numpy(), "High": frame["high"].to_numpy(),
                       "Low": frame["low"].to_numpy(), "Close": frame["close"].to_numpy(),
                       "Volume": frame["volume"].to_numpy()}, index=pd.to_datetime(frame["ts"].to_numpy(), utc=True))
    warnings.filterwarnings("ignore")
    bt = Backtest(df, SmaCross, cash=100_000_000, commission=0, finalize_trades=True)
    loaded = time.perf_counter()
    stats = bt.run()
    ran = time.perf_counter()
    print(json.dumps({"engine": "backtesting.py", "wall_s": ran - t0, "load_s": loaded - t0, "loop_s": ran - loaded,
                      "bars": len(df), "trades": int(stats["# Trades"])}))


if __name__ == "__main__":
    main(sys.argv[1])
