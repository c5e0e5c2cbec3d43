"""pamgate's signature schemes: pure functions from bytes and keys to verdicts.

What it is for: signing and verifying Betstack webhooks (SPEC 1a), Standard Webhooks
(SPEC 1b) and lottery receipts (SPEC 1c), and handling the keys they use.
What it must never do: touch a database, falcon, the network, ``os.environ`` or the clock
(callers pass ``now``), or put a secret or a signature value into an error or a repr.
"""

from __future__ import annotations
