"""The detector's thresholds, one place for both modes (batch and incremental)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WyckoffParams:
    """Every threshold of the definitions in ``trading.wyckoff.definitions``.

    Lengths are in bars; "ATR" is the mean true range of the ``atr_period`` bars *before* the
    bar being judged and "baseline" the mean volume of the ``volume_period`` bars before it,
    so a bar is never judged against itself. Heights are fractions of the trading range.
    """

    atr_period: int = 20
    volume_period: int = 20
    swing_orders: tuple[int, ...] = (3, 10, 30)  # swing scales; the first (minor) drives AR/ST/LPS
    trend_lookback: int = 60
    trend_min_atr: float = 6.0  # the fall (rise) into a climax, in ATR
    climax_range: float = 1.8  # climax bar range, in ATR
    climax_volume: float = 2.5  # climax volume, in baselines
    climax_bars: int = 3  # ... the heaviest of the bar and the ones before it, against the baseline before them
    # ... or a burst: over the last k bars (2 <= k <= burst_bars), a mean volume of at least
    # burst_volume baselines (the volume_period bars before the last burst_bars) and a span (highest high to
    # lowest low) of at least burst_span * sqrt(k) ATR: a climax spread over several bars (0: none)
    burst_bars: int = 5
    burst_volume: float = 2.0
    burst_span: float = 2.0
    # ... or a bar whose effort (volume x range; the largest of it and the climax_bars - 1 before it)
    # exceeds that of at least climax_rank of the rank_bars bars before it: heavy for this instrument and
    # regime, whatever its multiples of the baselines (0: off; 0.95 chosen on folds leaving one of A-G out,
    # docs/wyckoff.md, round 8; carried over in rounds 9 and 10)
    climax_rank: float = 0.95
    rank_bars: int = 100
    # the fall (rise) into a climax also counts, short of trend_min_atr, when it exceeds the fall (rise) of at
    # least fall_rank of the fall_bars bars before (each bar's own, from the lookback's highest close): steep
    # for this instrument and regime, whatever its multiple of the ATR (0: off; 0.9 over 300 bars chosen with
    # min_range_ratio 1.0 on folds leaving one of A-I out, docs/wyckoff.md, round 10)
    fall_rank: float = 0.9
    fall_bars: int = 300
    # both ranks are taken against the bars there are, once at least rank_min_bars came before, while fewer than
    # their window did (0: only against a full window; a climax in an instrument's first rank_bars bars, or a
    # fall in its first fall_bars, could not rank at all: a third of the coarse bars' scenarios)
    rank_min_bars: int = 0
    ps_range: float = 1.2  # preliminary support/supply bar range, in ATR
    ps_volume: float = 1.6  # preliminary support/supply volume, in baselines
    ps_gap: int = 8  # a preliminary support/supply comes at least this many bars before the climax
    ar_min_atr: float = 4.0  # the automatic rally/reaction must reach this far from the climax
    # ... or, when less, ar_sharp * sqrt(bars from the climax's extreme to the peak) ATR, but at least
    # ar_sharp_floor ATR (0: off, the default): a move stands out from the noise by its height over the
    # square root of the bars it took, which coarser bars leave unchanged; a range with such a sharp AR
    # proves itself by time only after a secondary test (with ar_sharp_needs_st). On (1.5, 4.5, with
    # ar_over_trend_swing 1.2) it found more on coarse bars and less on unperturbed ones, with ar_min_atr 6 (docs/wyckoff.md);
    # since round 6's ar_min_atr 4 it acts only with a floor below that (the settings refuse it otherwise)
    ar_sharp: float = 0.0
    ar_sharp_floor: float = 4.5
    ar_sharp_needs_st: bool = True
    ar_over_trend_swing: float = 1.0  # ... and outdo the largest rally (reaction) of the trend before the climax
    ar_retrace: float = 0.5  # ... and be confirmed by a close giving back this much of it
    report_after_phase_a: bool = True  # PS, climax, AR and ST are held until the range proves itself ... (off:
    # each is reported when found, and no range is dropped as a pause)
    proven_bars: int = 10  # ... by lasting this many bars from the AR (at least) ...
    proven_ratio: float = 3.0  # ... or this many times phase A's; a break with the trend before then drops it
    # a range that proved itself is reported only if the range gate (trading.wyckoff.gate, trees trained
    # on the tuning families, A-I since round 10) scores it at least this, else it is dropped as a pause is
    # (0: off); chosen with ar_min_atr 4 and climax_volume 2.5 on folds leaving one family out
    # (docs/wyckoff.md, rounds 6-8; carried over in rounds 9 and 10)
    gate_min: float = 0.2
    # ... and at least this when a spring or upthrust is what proves it, short of the time it takes to hold
    # (0: gate_min alone). Round 11's folds chose 0.3; the held-out family J and the real bars fell with it,
    # so it ships off (docs/wyckoff.md, round 11)
    spring_gate_min: float = 0.0
    # short of spring_gate_min (not of gate_min), the spring is a test and the range waits to prove itself
    # otherwise, instead of being dropped (a round 11 candidate, not chosen)
    spring_gate_test: bool = False
    # a spring or upthrust is reported only if the phase-C gate (trading.wyckoff.gate, C_FEATURES: trees
    # trained on the tuning families by bench/wyckoff_c_gate.py) scores it at least this, else it is a test of
    # the edge (0: off; docs/wyckoff.md, round 20). On since round 24, practically for the shallow ones alone:
    c_gate_min: float = 0.01
    # ... and at least this for one shallower than twice the penetration floors (spring_min_penetration_atr,
    # spring_min_penetration): the shallow candidates that looser floors admit held to a higher score (0:
    # c_gate_min alone; docs/wyckoff.md, rounds 23-24)
    c_gate_shallow_min: float = 0.5
    ar_max_bars: int = 120  # a climax with no AR within this many bars opens no range
    st_zone: float = 0.25  # a secondary test ends within this fraction of the height from the climax edge
    st_volume: float = 0.5  # ... on less than this fraction of the climax bar's volume
    # durations at the range's own pace: a ratio of phase A's bars (climax to the AR's confirmation), with a floor
    st_window: int = 10  # phase A gives way to B this many bars after the AR when no ST came (at least) ...
    st_window_ratio: float = 1.0  # ... or this many times phase A's bars
    min_range_bars: int = 10  # bars after the AR before a spring/upthrust counts (at least) ...
    min_range_ratio: float = 1.0  # ... or this many times phase A's bars (1.5 until round 10, docs/wyckoff.md)
    max_range_bars: int = 1200  # a range older than this is dropped
    spring_min_penetration_atr: float = 0.25  # (0.5 until round 24: what is under twice these is "shallow")
    spring_min_penetration: float = 0.05  # of the range height (and at least the ATRs above; 0.1 until round 24)
    spring_max_penetration: float = 0.6  # of the range height
    spring_recovery_bars: int = 12  # a spring closes back inside within this many bars of its extreme ...
    spring_max_bars: int = 24  # ... and this many of the first bar beyond the edge (else a break)
    # ... and is confirmed by a close this fraction of the height inside the range, within this many
    # bars of its first close back inside, before it trades beyond its extreme (0: the first close inside)
    spring_confirm: float = 0.25
    spring_confirm_bars: int = 24
    climax_replaces_in_b: bool = False  # a climax beyond the range replaces it in phase B too (always in A)
    # one spring or upthrust per range (round 10), unless, before the break, an opposite one replaces it (an
    # upthrust in an accumulation's phase B is its upthrust action) or one beyond the first's extreme on the
    # same side does (the first was not the low); the first one's event and signal stay. Round 19's folds chose
    # an opposite one toward the range's context only (a spring in a range a selling climax opened, an upthrust
    # in one a buying climax opened: c_replaced_by_opposite with the default c_replace_toward_context); the
    # held-out family J's worst variant fell with it, so it ships off (docs/wyckoff.md, round 19)
    c_replaced_by_opposite: bool = False
    c_replaced_by_same: bool = False
    c_replace_depth: float = 0.0  # ... and only reaching this many times the first one's penetration (0: any)
    c_replace_toward_context: bool = True  # ... and an opposite one only toward the range's context
    spring_max_volume: float = 99.0  # a break on more volume than this is supply (demand) winning
    breakout: float = 0.25  # a close beyond an edge by this fraction of the height is a break
    lps_depth: float = 0.5  # an LPS holds within this fraction of the height below resistance
    lps_volume: float = 1.3  # ... on volume below this many baselines
    lps_pullback: float = 0.2  # ... after a pullback of this fraction of the height from the best price
    lps_window: int = 150  # bars after the SOS in which an LPS is looked for
    markup_height: float = 0.75  # phase E: a close this many heights beyond the broken edge
    # phases as shown (never an event or a signal; round 25, on): phase E from the LPS (LPSY) on, as the schematics
    # draw it, not only from the markup's later close beyond the best price since the break ...
    lps_starts_e: bool = True
    # ... and phase E shown until a range proves itself, a close goes back beyond the middle of the range it
    # broke out of or price leaves a range the other way, not until the regime turns: the bars between a markup
    # and the next range's proof, and a range still in phase A that has not proved itself, show E, and a markup
    # that falls back into its range does not
    e_until_proven: bool = True
    stop_buffer_atr: float = 0.5
    min_reward_risk: float = 1.5  # a signal's first target pays at least this many times its risk (else none)
    pnf_box_atr: float = 0.5  # point-and-figure box, in ATR, for the cause count
    pnf_reversal: int = 3
    regime_period: int = 30
    er_trend: float = 0.3  # efficiency ratio at or above which the regime is a trend
    htf_factor: int = 15  # the higher timeframe is this many base bars
    htf_period: int = 12  # its regime is measured over this many higher-timeframe bars
    vsa_narrow: float = 0.7  # a narrow bar: range below this many ATR
    effort_volume: float = 1.8  # effort: volume at or above this many baselines
    stop_beyond_range: bool = False  # LPS stops beyond the range edge instead of the LPS extreme

    def c_least(self, shallow: bool) -> float:
        """The phase-C gate's least score for a spring or upthrust: ``c_gate_shallow_min`` for one shallower
        than twice the penetration floors (``shallow``) when that is above ``c_gate_min``, else ``c_gate_min``."""
        return self.c_gate_shallow_min if shallow and self.c_gate_shallow_min > self.c_gate_min else self.c_gate_min

    @property
    def warmup(self) -> int:
        """Bars before the first that can be judged: an ATR and a volume baseline (the trend lookback
        uses the bars there are; a swing needs its order's bars on each side and the regime its
        period, and each is 0 until then)."""
        return max(self.atr_period, self.volume_period + max(self.climax_bars, self.burst_bars) - 1)
