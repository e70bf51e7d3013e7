"""One evaluation of one account: settings + state + priced items + facts + moment -> a Decision.

Pure: no I/O, no clock. Order inside one evaluation (each step sees the funds left by the previous ones):
  0. an account another bookkeeper bills stops here: no charges, no block (ours is lifted), its days settled as
     the other bookkeeper's; back with us, it is billed from that day as a late start (`_returned`);
  1. period, day k, state rolled to the period; a running trial stops here (no charges);
  2. MRC, if not yet paid this period: all-or-nothing on the funds at the start of the evaluation; if short,
     cancel `cancel_on_insufficient_funds` categories (reprice) and try once more; still short -> nothing, delinquent;
  3. monthly items' increases (prorated) and, with `prorate.removals`, decreases (capped prorated credits),
     only once the MRC is paid;
  4. activation charges above the period's high-water marks;
  5. daily fees: missed days since the last settled day, then today's fee (or the rise of today's peak);
  6. standing from the funds after 2-5; block / unblock.
With netto VAT every charge is followed by its VAT entry (vat.py), and the MRC's funds check counts its VAT.
A block by us covers whole days: if the account is blocked by us and this evaluation does not lift the block
(it is judged with today's daily fees included), the evaluation is redone without daily fees, keeping the
standing of the first pass (the MRC does not depend on daily fees, so only the daily charges differ).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from ..clock import Period, day_index, period_containing
from ..money import round_money
from ..settings import BillingSettings
from .keys import charge_key, level_text
from .model import DELINQUENT, GOOD_STANDING, AccountFacts, Charge, Decision, PricedItem
from .proration import daily_fee, days_left_factor, prorated
from .state import ZERO, BillingState, DailyLast, DayFee, ItemKey, ItemLevel
from .vat import with_vat

ONE_SECOND = timedelta(seconds=1)

Reprice = Callable[[frozenset[str]], Sequence[PricedItem]]


@dataclass(frozen=True)
class _Context:
    billing_settings: BillingSettings
    account_id: str
    period: Period
    k: int
    facts: AccountFacts

    @property
    def currency(self) -> str:
        return self.billing_settings.currency

    def charge(
        self,
        kind: str,
        item: PricedItem | ItemKey,
        *,
        amount: Decimal,
        quantity: int,
        rate: Decimal,
        factor: str,
        day: int,
        level: str | None,
        description: str,
        credit: bool = False,
    ) -> Charge:
        category, name = item.key if isinstance(item, PricedItem) else item
        on = self.period.date_of_day(day) if kind == "daily" else self.period.start_date
        return Charge(
            charge_key(self.account_id, on, kind, category, name, level),
            self.account_id,
            "credit" if credit else "debit",
            kind,
            category,
            name,
            quantity,
            rate,
            amount,
            self.currency,
            factor,
            self.period.start,
            self.period.end,
            day,
            description,
        )


def evaluate(
    billing_settings: BillingSettings,
    account_id: str,
    state: BillingState | None,
    items: Sequence[PricedItem],
    facts: AccountFacts,
    moment: datetime,
    reprice: Reprice | None = None,
    *,
    catch_up: bool = False,
) -> Decision:
    """Evaluate an account at `moment`.

    `state`: the account's latest state (any period, or None for an account never billed); it is rolled over
    here. `items`: every plan item as priced now (daily and monthly). `reprice(categories)` returns the items
    priced with those categories' quantities zeroed; without it, those items are simply zeroed.
    `catch_up`: `moment` is the last moment of a period the bookkeeper missed (`missed_period_ends`): every day
    through today is a missed day, billed at the daily quantities last known (`state.last_daily`).
    The returned charges are to be written (by key) before the returned state is saved.
    """
    period = period_containing(moment, billing_settings.billing_day, billing_settings.timezone)
    ctx = _Context(billing_settings, account_id, period, day_index(moment, period), facts)
    current = _state_in(state, account_id, period, moment)
    if facts.elsewhere:
        away = current.evolve(away=True, last_day=max(current.last_day or 0, ctx.k))
        return _decide(ctx, (), away, GOOD_STANDING, facts.available, frozenset(), moment)
    if current.away:
        current = _returned(ctx, current, items)

    if facts.trial_expires is not None and facts.trial_expires > moment:
        standing = GOOD_STANDING if facts.available >= 0 else DELINQUENT
        return _decide(ctx, (), current, standing, facts.available, frozenset(), moment)

    start_day = current.billing_from or _start_day(ctx, state)
    charges, new_state, cancel = _bill(ctx, current, items, reprice, start_day, not catch_up, catch_up)
    funds = facts.available + sum((c.signed for c in charges), ZERO)
    standing = GOOD_STANDING if new_state.mrc_paid and funds >= 0 else DELINQUENT
    if facts.blocked_by_us and not _unblocks(ctx, standing):
        charges, new_state, cancel = _bill(ctx, current, items, reprice, start_day, False, catch_up)
        funds = facts.available + sum((c.signed for c in charges), ZERO)
    return _decide(ctx, charges, new_state, standing, funds, cancel, moment)


def _state_in(state: BillingState | None, account_id: str, period: Period, moment: datetime) -> BillingState:
    if state is None:
        return BillingState(account_id, period)
    if state.account_id != account_id:
        raise ValueError(f"state of {state.account_id} given for {account_id}")
    if state.period == period:
        return state
    if state.period.start.timestamp() > period.start.timestamp():
        raise ValueError(f"{moment.isoformat()} is before the state's period {state.period.start.isoformat()}")
    return state.rolled_to(period)


def _returned(ctx: _Context, state: BillingState, items: Sequence[PricedItem]) -> BillingState:
    """An account back from another bookkeeper on day k: billed from day k (an MRC not paid to us this period is
    late, prorated from k); the days before are not ours (no missed days); the units it holds now were activated
    under the other bookkeeper (the activation marks rise to them); levels we charged earlier in the period stand
    (a rise above them is charged prorated from k)."""
    marks = dict(state.marks)
    for i in items:
        marks[i.key] = max(marks.get(i.key, 0), i.billable)
    return state.evolve(
        away=False, billing_from=state.billing_from or ctx.k, marks=marks, last_day=max(state.last_day or 0, ctx.k - 1)
    )


def _start_day(ctx: _Context, given: BillingState | None) -> int:
    """The day from which the account is billed this period: the trial's expiry day if it expired in this
    period; day 1 for an account billed in an earlier period (even if first seen later: an outage is not a late
    start); else today (a new account)."""
    expires = ctx.facts.trial_expires
    if expires is not None and ctx.period.contains(expires):
        return day_index(expires, ctx.period)
    if given is not None and given.started and given.period.end.timestamp() <= ctx.period.start.timestamp():
        return 1
    return ctx.k


def missed_period_ends(state: BillingState, moment: datetime, billing_settings: BillingSettings) -> list[datetime]:
    """The last moments (a second before their ends) of the periods before `moment`'s that the bookkeeper did not
    evaluate through, oldest first: the state's own period if its daily fees stop before its last day, and every
    period that started after it. [] when the reseller forgives missed days (`charge_missed_days` false), and for
    an account last seen billed by another bookkeeper (those periods were not ours)."""
    if not billing_settings.charge_missed_days or state.away:
        return []
    current = period_containing(moment, billing_settings.billing_day, billing_settings.timezone)
    ends = []
    if (
        state.period.end.timestamp() <= moment.timestamp()
        and state.last_daily
        and (state.last_day or 0) < state.period.days
    ):
        ends.append(state.period.end - ONE_SECOND)
    period = period_containing(state.period.end, billing_settings.billing_day, billing_settings.timezone)
    while period.start.timestamp() < current.start.timestamp():
        ends.append(period.end - ONE_SECOND)
        period = period_containing(period.end, billing_settings.billing_day, billing_settings.timezone)
    return ends


def _unblocks(ctx: _Context, standing: str) -> bool:
    return not ctx.facts.admin_blocked and (standing == GOOD_STANDING or not ctx.billing_settings.block_on_negative)


def _decide(
    ctx: _Context,
    charges: Sequence[Charge],
    state: BillingState,
    standing: str,
    funds: Decimal,
    cancel: frozenset[str],
    moment: datetime,
) -> Decision:
    facts = ctx.facts
    block = (
        ctx.billing_settings.block_on_negative
        and standing == DELINQUENT
        and not facts.blocked_by_us
        and not facts.admin_blocked
    )
    unblock = facts.blocked_by_us and _unblocks(ctx, standing)
    return Decision(
        tuple(charges), state.evolve(standing=standing, evaluated_at=moment), standing, funds, block, unblock, cancel
    )


def _bill(
    ctx: _Context,
    state: BillingState,
    items: Sequence[PricedItem],
    reprice: Reprice | None,
    start_day: int,
    charge_today: bool,
    catch_up: bool,
) -> tuple[list[Charge], BillingState, frozenset[str]]:
    """Steps 2-5 on a copy of the state. Missed days are charged unless the account is blocked by us or the
    reseller forgives them; `catch_up`: today is one of them."""
    marks = dict(state.marks) if state.started else {i.key: i.billable for i in items}
    levels = dict(state.levels)
    charges: list[Charge] = []
    cancel: frozenset[str] = frozenset()
    mrc_paid = state.mrc_paid
    if not mrc_paid:
        mrc_day = start_day if not state.started else ctx.k
        mrc = _mrc(ctx, items, mrc_day)
        if _net(with_vat(mrc, ctx.billing_settings)) > ctx.facts.available:
            cancel = frozenset(
                i.category
                for i in items
                if i.category in ctx.billing_settings.cancel_on_insufficient_funds and i.quantity > 0
            )
            if cancel:
                items = _repriced(items, cancel, reprice)
                mrc = _mrc(ctx, items, mrc_day)
        if _net(with_vat(mrc, ctx.billing_settings)) <= ctx.facts.available:
            mrc_paid = True
            charges += mrc
            paid = {(c.category, c.item): -c.signed for c in mrc}
            levels = {
                i.key: ItemLevel(i.total, paid.get(i.key, ZERO), 0, i.prorate_removals)
                for i in items
                if not ctx.billing_settings.is_daily(i.category)
            }
    if mrc_paid:
        charges += _level_changes(ctx, items, levels)
    charges += _activations(ctx, items, marks)
    days = {k: dict(fees) for k, fees in state.days.items()}
    daily = [i for i in items if ctx.billing_settings.is_daily(i.category)]
    first_open = max(start_day, (state.last_day or 0) + 1)
    if not ctx.facts.blocked_by_us and ctx.billing_settings.charge_missed_days:
        for day in range(first_open, ctx.k + 1 if catch_up else ctx.k):
            charges += _missed_day(ctx, state.last_daily, day, daily, days)
    last_day = state.last_day
    if catch_up:
        last_day = ctx.k
    elif charge_today:
        charges += _today(ctx, daily, days)
        last_day = ctx.k
    elif ctx.k - 1 >= first_open:
        last_day = ctx.k - 1
    now_daily = {i.key: DailyLast(i.quantity, i.rate, i.total) for i in daily}
    last_daily = {**now_daily, **state.last_daily} if catch_up else {**state.last_daily, **now_daily}
    new_state = state.evolve(
        billing_from=start_day,
        mrc_paid=mrc_paid,
        levels=levels,
        marks=marks,
        days=days,
        last_daily=last_daily,
        last_day=last_day,
    )
    return with_vat(charges, ctx.billing_settings), new_state, cancel


def _repriced(items: Sequence[PricedItem], cancel: frozenset[str], reprice: Reprice | None) -> list[PricedItem]:
    if reprice is not None:
        return list(reprice(cancel))
    return [i.cancelled() if i.category in cancel else i for i in items]


def _net(charges: Sequence[Charge]) -> Decimal:
    """What `charges` cost together: debits less credits."""
    return -sum((c.signed for c in charges), ZERO)


def _mrc(ctx: _Context, items: Sequence[PricedItem], day: int) -> list[Charge]:
    """The period's recurring charges, prorated from `day` when late and `prorate_late_mrc`. An item whose total is
    negative (a discount larger than its line, as KAZOO computes it) is a credit line, so the MRC nets to KAZOO's
    recurring total."""
    n = ctx.period.days
    late = day > 1 and ctx.billing_settings.prorate_late_mrc
    out = []
    for i in items:
        if ctx.billing_settings.is_daily(i.category) or i.total == 0:
            continue
        size = abs(i.total)
        amount = prorated(size, day, n, ctx.currency) if late else round_money(size, ctx.currency)
        factor = days_left_factor(day if late else 1, n)
        if amount > 0:
            out.append(
                ctx.charge(
                    "mrc",
                    i,
                    amount=amount,
                    quantity=i.billable,
                    rate=i.rate,
                    factor=factor,
                    day=day,
                    level=None,
                    credit=i.total < 0,
                    description=f"Monthly {i.category}/{i.item}: {i.billable} × {i.rate}"
                    f" = {i.total}, {factor} of the period" + (" credited" if i.total < 0 else ""),
                )
            )
    return out


def _level_changes(ctx: _Context, items: Sequence[PricedItem], levels: dict[ItemKey, ItemLevel]) -> list[Charge]:
    """Increases above L charged prorated; decreases credited only with `prorate.removals`. Updates `levels`."""
    k, n = ctx.k, ctx.period.days
    factor = days_left_factor(k, n)
    now = {i.key: i for i in items if not ctx.billing_settings.is_daily(i.category)}
    out = []
    for key in sorted(set(now) | set(levels)):
        was = levels.get(key, ItemLevel())
        item = now.get(key)
        total = item.total if item else ZERO
        removals = item.prorate_removals if item else was.removals
        label = item or key
        quantity, rate = (item.billable, item.rate) if item else (0, ZERO)
        if total > was.level and (item is None or item.prorate_additions):
            amount = prorated(total - was.level, k, n, ctx.currency)
            level = f"{was.changes + 1}-{level_text(total)}"
            if amount > 0:
                out.append(
                    ctx.charge(
                        "prorate",
                        label,
                        amount=amount,
                        quantity=quantity,
                        rate=rate,
                        factor=factor,
                        day=k,
                        level=level,
                        description=f"{key[0]}/{key[1]} up from {was.level} to {total} a month, {factor} of the period",
                    )
                )
            levels[key] = ItemLevel(total, was.net + amount, was.changes + 1, removals)
        elif total < was.level and removals:
            amount = min(prorated(was.level - total, k, n, ctx.currency), was.net)
            level = f"{was.changes + 1}-{level_text(total)}"
            if amount > 0:
                out.append(
                    ctx.charge(
                        "prorate_credit",
                        label,
                        amount=amount,
                        quantity=quantity,
                        rate=rate,
                        factor=factor,
                        day=k,
                        level=level,
                        credit=True,
                        description=f"{key[0]}/{key[1]} down from {was.level} to {total} a month, "
                        f"{factor} of the period credited",
                    )
                )
            levels[key] = ItemLevel(total, was.net - amount, was.changes + 1, removals)
        elif was.removals != removals:
            levels[key] = ItemLevel(was.level, was.net, was.changes, removals)
    return out


def _activations(ctx: _Context, items: Sequence[PricedItem], marks: dict[ItemKey, int]) -> list[Charge]:
    """`activation_charge × Δ` for billable units above the period's high-water mark. Updates `marks`."""
    out = []
    for i in items:
        mark = marks.get(i.key, 0)
        if i.billable <= mark:
            continue
        delta = i.billable - mark
        marks[i.key] = i.billable
        amount = round_money(i.activation_charge * delta, ctx.currency)
        if amount > 0:
            category, name = i.activation_key
            out.append(
                ctx.charge(
                    "activation",
                    i.activation_key,
                    amount=amount,
                    quantity=delta,
                    rate=i.activation_charge,
                    factor="1",
                    day=ctx.k,
                    level=str(i.billable),
                    description=f"Activation of {delta} {category}/{name} × {i.activation_charge}",
                )
            )
    return out


def _daily_charge(
    ctx: _Context, key: ItemKey, day: int, amount: Decimal, charged: Decimal, quantity: int, rate: Decimal, why: str
) -> Charge:
    return ctx.charge(
        "daily",
        key,
        amount=amount,
        quantity=quantity,
        rate=rate,
        factor=f"1/{ctx.period.days}",
        day=day,
        level=level_text(charged),
        description=f"{key[0]}/{key[1]} on {ctx.period.date_of_day(day).isoformat()}: {why}",
    )


def _missed_day(
    ctx: _Context,
    last: Mapping[ItemKey, DailyLast],
    day: int,
    daily: Sequence[PricedItem],
    days: dict[int, dict[ItemKey, DayFee]],
) -> list[Charge]:
    """A day without any evaluation: each daily item at its last billed quantity (or today's, if never billed)."""
    fees = days.setdefault(day, {})
    known = {**{i.key: DailyLast(i.quantity, i.rate, i.total) for i in daily}, **last}
    out = []
    for key, was in sorted(known.items()):
        if key in fees:
            continue
        fee = daily_fee(was.total, day, ctx.period.days, ctx.currency)
        fees[key] = DayFee(was.quantity, max(fee, ZERO))
        if fee > 0:
            out.append(
                _daily_charge(
                    ctx,
                    key,
                    day,
                    fee,
                    fee,
                    was.quantity,
                    was.rate,
                    f"{was.quantity} × {was.rate} = {was.total} a month (missed day)",
                )
            )
    if not fees:
        del days[day]
    return out


def _today(ctx: _Context, daily: Sequence[PricedItem], days: dict[int, dict[ItemKey, DayFee]]) -> list[Charge]:
    """Today's fee at today's peak; a later rise of the peak is charged at once, never a refund."""
    k = ctx.k
    fees = days.setdefault(k, {})
    out = []
    for i in daily:
        was = fees.get(i.key)
        if was is not None and i.quantity < was.peak:
            continue
        target = daily_fee(i.total, k, ctx.period.days, ctx.currency)
        charged = was.charged if was else ZERO
        peak = max(i.quantity, was.peak if was else 0)
        fees[i.key] = DayFee(peak, max(charged, target))
        if target > charged:
            out.append(
                _daily_charge(
                    ctx,
                    i.key,
                    k,
                    target - charged,
                    target,
                    peak,
                    i.rate,
                    f"{i.quantity} × {i.rate} = {i.total} a month",
                )
            )
    if not fees:
        del days[k]
    return out
