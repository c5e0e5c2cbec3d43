"""The Betstack bet engine: the PAM webhook (`POST /pam`) and the `/be/tickets` endpoints."""
