"""Test support: synthetic data, landing helpers, test warehouses, local stand-ins for external services (Slack)."""
