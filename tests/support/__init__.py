"""Test support: synthetic data, landing helpers, local stand-ins for external services (Slack)."""
