"""Protocol adapters: each validates its own wire format and calls the core. No database."""
