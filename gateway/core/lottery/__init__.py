"""The lottery (SPEC 9): draws, sales and the evaluation of a draw's tickets.

- `draws`: create a draw (ADMIN), the active draw of a payee, record results and evaluate
  every ticket of the draw in one batched pass;
- `sales`: sell a ticket (price rule, board limits, rematch rules, `payer_reference`
  idempotency, random boards, unique numbers, the signed receipt, the sale in the ledger);

A lottery ticket is a `Ticket` of channel `lottery` (operator: the payee banca), moved only
through `gateway.core.tickets`; `LotteryTicket` holds what the lottery adds to it. Nothing
here knows a wire format: adapters render the results.
"""

from __future__ import annotations

from gateway.core.errors import NotFound

CHANNEL = "lottery"
CURRENCY = "MXN"
NUMBERS = range(1, 57)  # each board: 6 distinct numbers from 1 to 56
PICKS = 6
MAX_BOARDS = 6
TIMEZONE = "America/Mexico_City"  # of new draws: their sales' `transaction_date`


class CompanyNotFound(NotFound):
    """The payee named by a sale or a draw query is no banca."""

    code = "company_not_found"


class NoActiveDraw(NotFound):
    code = "no_active_draw"
