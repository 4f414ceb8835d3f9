"""Cascade populations from the portfolio input file (the ``analyze`` input), nothing skipped.

The file is compiled by the margin engine (:func:`~liqrisk.margin.account.compile_portfolio`):
the cascade runs on exactly the pools, positions, tiers, collateral legs and option terms that
``analyze`` evaluates — every venue and mode, inverse contracts, options (repriced at each
step), coin collateral moving with its price, several underlyings. The snapshot marks of the
file's market block hold for every axis the scenario does not move. Lending-protocol accounts
(collateral loans) are refused with a clear error: the cascade does not execute their
liquidation calls yet, and counting them as never liquidated would be a wrong number.
"""
from __future__ import annotations

import numpy as np

from liqrisk.cascade.book import Population
from liqrisk.cascade.loans import loan_book
from liqrisk.model import Portfolio
from liqrisk.margin.account import compile_portfolio


def population_from_portfolio(pf: Portfolio) -> Population:
    """The cascade population of a validated portfolio file."""
    market, plans, arrays = compile_portfolio(pf)
    n_pools = len(arrays.const_usd)
    pool_account = np.empty(n_pools, np.int64)
    pool_venue = np.empty(n_pools, np.int64)
    pool_response = np.empty(n_pools, np.int64)
    fee = np.zeros(len(arrays.qty))
    venues = tuple(dict.fromkeys(plan.rules.name for plan in plans))
    responses = tuple(dict.fromkeys(plan.rules.liquidation_response for plan in plans))
    for i, plan in enumerate(plans):
        pool_account[plan.pools] = i
        pool_venue[plan.pools] = venues.index(plan.rules.name)
        pool_response[plan.pools] = responses.index(plan.rules.liquidation_response)
        for pos, row in zip(plan.account.positions, plan.position_rows):
            if row >= 0:
                fee[row] = plan.rules.liquidation_fee(plan.rules.underlying_of(pos))
    pop = Population(arrays, tuple(market.names), market.prices.copy(),
                     np.array([plan.account.id for plan in plans]), pool_account, venues, pool_venue,
                     responses, pool_response, fee)
    pop.loans = loan_book(plans, pop.arrays, market.names)      # after the settlement legs are placed
    return pop
