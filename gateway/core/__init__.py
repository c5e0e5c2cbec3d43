"""The core: one ticket model, the ledger, payouts, idempotency, audit. Never imports falcon."""
