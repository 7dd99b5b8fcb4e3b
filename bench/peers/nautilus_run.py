"""Run nautilus_trader's BacktestEngine on the bench's data (run by bench/backtest.py under the peer
venv's interpreter, where nautilus_trader is installed; it never imports Octet).

    python nautilus_run.py bars BARS.parquet      # EUR/USD hourly bars as quotes, its example EMACross 10/30
    python nautilus_run.py ticks TICKS.parquet    # quotes of three pairs, EMACross 10/30 on 1-minute bid bars
                                                  # aggregated inside the engine from the quotes

Prints one JSON line: wall_s (imports and loading included), load_s, loop_s (engine.run), bars or
ticks, orders, fills.
"""

from __future__ import annotations

import json
import sys
import time

t0 = time.perf_counter()

from decimal import Decimal  # noqa: E402

import pandas as pd  # noqa: E402
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig  # noqa: E402
from nautilus_trader.config import LoggingConfig  # noqa: E402
from nautilus_trader.examples.strategies.ema_cross import EMACross, EMACrossConfig  # noqa: E402
from nautilus_trader.model.currencies import USD  # noqa: E402
from nautilus_trader.model.data import BarType  # noqa: E402
from nautilus_trader.model.enums import AccountType, OmsType  # noqa: E402
from nautilus_trader.model.identifiers import Venue  # noqa: E402
from nautilus_trader.model.objects import Money  # noqa: E402
from nautilus_trader.persistence.wranglers import QuoteTickDataWrangler  # noqa: E402
from nautilus_trader.test_kit.providers import TestInstrumentProvider  # noqa: E402


def main(mode: str, path: str) -> None:
    sim = Venue("SIM")
    engine = BacktestEngine(config=BacktestEngineConfig(logging=LoggingConfig(bypass_logging=True)))
    engine.add_venue(venue=sim, oms_type=OmsType.HEDGING, account_type=AccountType.MARGIN, base_currency=USD,
                     starting_balances=[Money(10_000_000, USD)])
    frame = pd.read_parquet(path)
    count = 0
    if mode == "bars":
        inst = TestInstrumentProvider.default_fx_ccy("EUR/USD", sim)
        engine.add_instrument(inst)
        df = frame.set_index(pd.to_datetime(frame["ts"], utc=True))[["open", "high", "low", "close", "volume"]]
        df.index.name = "timestamp"
        # its quotes from the bars (bid = ask: no costs), as Octet's are; the strategy's hourly bars are
        # aggregated inside the engine from them (bars alone give it no price to fill a market order at)
        quotes = QuoteTickDataWrangler(inst).process_bar_data(bid_data=df, ask_data=df)
        engine.add_data(quotes)
        count = len(df)
        bar_type = BarType.from_str(f"{inst.id}-1-HOUR-BID-INTERNAL")
        engine.add_strategy(EMACross(EMACrossConfig(instrument_id=inst.id, bar_type=bar_type,
                                                    trade_size=Decimal(100_000), fast_ema_period=10,
                                                    slow_ema_period=30, request_bars=False)))
    else:
        for symbol, part in frame.groupby("symbol"):
            inst = TestInstrumentProvider.default_fx_ccy(f"{symbol[:3]}/{symbol[3:]}", sim)
            engine.add_instrument(inst)
            df = pd.DataFrame({"bid_price": part["bid"].to_numpy(), "ask_price": part["ask"].to_numpy()},
                              index=pd.to_datetime(part["ts"].to_numpy(), utc=True))
            df.index.name = "timestamp"
            ticks = QuoteTickDataWrangler(inst).process(df)
            engine.add_data(ticks)
            count += len(ticks)
            bar_type = BarType.from_str(f"{inst.id}-1-MINUTE-BID-INTERNAL")
            engine.add_strategy(EMACross(EMACrossConfig(instrument_id=inst.id, bar_type=bar_type,
                                                        trade_size=Decimal(100_000), fast_ema_period=10,
                                                        slow_ema_period=30, request_bars=False)))
    loaded = time.perf_counter()
    engine.run()
    ran = time.perf_counter()
    orders = len(engine.trader.generate_orders_report())
    fills = len(engine.trader.generate_order_fills_report())
    print(json.dumps({"engine": "nautilus_trader", "wall_s": ran - t0, "load_s": loaded - t0, "loop_s": ran - loaded,
                      ("bars" if mode == "bars" else "ticks"): count, "orders": orders, "fills": fills}))
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
