"use client";

import type { Account } from "@/lib/api";
import { money, pct, when } from "@/lib/format";
import { Sparkline } from "./Sparkline";

/** A rule's headroom as a gauge: the share of its allowance left now, and (a mark) with every open stop hit. */
function Gauge({ name, left, worst, limit, floor, currency }: {
  name: string;
  left: number;
  worst: number;
  limit: number;
  floor: string | null;
  currency: string;
}) {
  const share = limit > 0 ? Math.max(0, Math.min(1, left / limit)) : 1;
  const worstShare = limit > 0 ? Math.max(0, Math.min(1, worst / limit)) : 1;
  const level = worstShare <= 0.1 || share <= 0.2 ? "bad" : worstShare <= 0.35 || share <= 0.5 ? "warn" : "";
  return (
    <div className={`gauge ${level}`}>
      <div className="label">
        <span>{name}</span>
        <span>
          {money(String(left), currency)} left ({pct(share)})
        </span>
      </div>
      <div
        className="track"
        role="meter"
        aria-label={`${name} headroom`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(share * 100)}
        aria-valuetext={`${pct(share)} of the allowance left; ${pct(worstShare)} if every open stop is hit`}
      >
        <div className="fill" style={{ width: `${share * 100}%` }} />
        <div className="worst" style={{ left: `calc(${worstShare * 100}% - 1px)` }} title="worst case: every open stop hit" />
      </div>
      <div className="label muted">
        <span>floor {money(floor, currency)}</span>
        <span>worst case {money(String(worst), currency)}</span>
      </div>
    </div>
  );
}

/** The firm's inactivity rule: the account is closed if it enters no trade by then. Days left are
 * counted from the headroom's own time (market time), yellow under two, red once passed. */
function IdleDeadline({ h }: { h: NonNullable<Account["headroom"]> }) {
  if (!h.idle_deadline_ns) {
    return null;
  }
  const left = (h.idle_deadline_ns - h.ts_ns) / 86_400e9;
  const level = left <= 0 ? "bad" : left < 2 ? "warn" : "good";
  return (
    <dl className="kv" aria-label="Inactivity">
      <dt title="the firm closes the account if it enters no trade by then (its inactivity rule)">Trade by</dt>
      <dd>
        <span className={`pill ${level}`} data-testid="idle-deadline">
          {when(h.idle_deadline_ns)} ({left <= 0 ? "passed" : `${left.toFixed(1)} days left`})
        </span>
      </dd>
    </dl>
  );
}

/** The pass-odds monitor's last answer: the chance to pass the phase, of a hard breach, and the risk
 * per trade that passes most often. Nothing until the account has the history to draw from. */
function PassOdds({ h }: { h: NonNullable<Account["headroom"]> }) {
  if (h.hard_breach_probability == null) {
    return null;
  }
  const breach = h.hard_breach_probability;
  const level = breach >= 0.25 ? "bad" : breach >= 0.1 ? "warn" : "good";
  return (
    <dl className="kv" data-testid="pass-odds" aria-label="Pass odds">
      {h.pass_probability != null && (
        <>
          <dt title="Monte Carlo of the rest of the phase under the firm's rules, from this account's own days">Pass odds</dt>
          <dd data-testid="pass-probability">{pct(h.pass_probability)}</dd>
        </>
      )}
      <dt title="the probability of breaking the daily or maximum loss rule before the phase ends">Hard-breach odds</dt>
      <dd>
        <span className={`pill ${level}`} data-testid="hard-breach-probability">{pct(breach)}</span>
      </dd>
      {h.pass_risk_pct != null && (
        <>
          <dt title="the risk per trade, in percent of the initial balance, that passes most often">Best risk a trade</dt>
          <dd>{h.pass_risk_pct.toFixed(2)}%</dd>
        </>
      )}
    </dl>
  );
}

export function AccountCard({ a, equity, halt }: { a: Account; equity: number[]; halt: [string, string] | null }) {
  const h = a.headroom;
  const r = a.rules;
  const dailyLimit = h && h.daily_headroom !== null && h.daily_fraction > 0 ? Number(h.daily_headroom) / h.daily_fraction : null;
  const breakers = a.breakers.filter((b) => b.to_state !== "closed");
  return (
    <article className="card" aria-labelledby={`acc-${a.account_id}`} data-testid={`account-${a.account_id}`}>
      <h2 id={`acc-${a.account_id}`}>
        {a.account_id} <span className="muted">· {a.firm}</span>
      </h2>
      <dl className="kv">
        <dt>Balance</dt>
        <dd data-testid="balance">{money(a.balance, a.currency)}</dd>
        <dt>Equity</dt>
        <dd data-testid="equity">{money(a.equity, a.currency)}</dd>
        <dt>Open positions</dt>
        <dd>{a.positions.length}</dd>
        <dt title="the firm's next trading day after the account's last state">Next day starts</dt>
        <dd>{r ? `${when(r.resets_ns, r.timezone)} (${r.timezone})` : "–"}</dd>
      </dl>
      {h ? (
        <>
          {h.daily_headroom !== null && dailyLimit !== null ? (
            <Gauge
              name="Daily loss"
              left={Number(h.daily_headroom)}
              worst={Number(h.worst_case_daily_headroom ?? h.daily_headroom)}
              limit={dailyLimit}
              floor={h.daily_floor}
              currency={a.currency}
            />
          ) : (
            <p className="muted">{h.daily_headroom === null ? "No daily loss rule." : "Daily loss: at the limit."}</p>
          )}
          <Gauge
            name="Max loss"
            left={Number(h.max_loss_headroom)}
            worst={Number(h.worst_case_max_loss_headroom)}
            limit={r ? Number(r.max_loss_limit) : Number(h.max_loss_headroom)}
            floor={h.max_loss_floor}
            currency={a.currency}
          />
          <IdleDeadline h={h} />
          <PassOdds h={h} />
          <span className="sr-only" data-testid="daily-headroom">{h.daily_headroom ?? ""}</span>
          <span className="sr-only" data-testid="max-loss-headroom">{h.max_loss_headroom}</span>
        </>
      ) : (
        <p className="muted">No headroom recorded yet.</p>
      )}
      <Sparkline values={equity} label={`${a.account_id} equity curve`} />
      {halt && (
        <p className="pill bad" role="status" data-testid="account-halted" title="octet desk resume --account lifts it">
          halted by {halt[0]}: {halt[1]}
        </p>
      )}
      <div className="bar" aria-label="Breakers">
        {breakers.length === 0 ? (
          <span className="pill good">breakers closed</span>
        ) : (
          breakers.map((b) => (
            <span key={`${b.tier}-${b.scope}`} className="pill bad" title={`${b.trigger}: ${b.action}`}>
              {b.tier} {b.to_state}
            </span>
          ))
        )}
      </div>
      {a.positions.length > 0 && (
        // scrolls sideways inside the card when its columns are wider than it (focusable: keys scroll it too)
        <div className="hscroll" tabIndex={0} role="region" aria-label={`Open positions of ${a.account_id}`}>
          <table>
            <caption className="sr-only">Open positions of {a.account_id}</caption>
            <thead>
              <tr>
                <th>Symbol</th>
                <th>Side</th>
                <th className="num">Lots</th>
                <th className="num">Entry</th>
                <th className="num">Stop</th>
                <th className="num">P/L</th>
              </tr>
            </thead>
            <tbody>
              {a.positions.map((p) => (
                <tr key={p.position_id}>
                  <td>{p.symbol}</td>
                  <td>{p.side}</td>
                  <td className="num">{p.lots}</td>
                  <td className="num">{p.entry}</td>
                  <td className="num">{p.stop_loss}</td>
                  <td className="num">{money(p.floating_pnl)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </article>
  );
}
