"""The payments registry: payments recorded by the back office's callers (a POS),
each one money in the ledger, their methods and currencies, and the tickets they pay.

`catalog` reads the seeded methods and currencies, `payments` records, corrects and voids
payments (one ledger transaction each time), `links` ties payments to the caller's tickets.
Who sees what is `policy.registry_window`: ADMIN every payment, anyone else those recorded
at its own sales window. Nothing here renders wire names or HTTP statuses.
"""
