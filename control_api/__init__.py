"""The platform's REST information API."""
