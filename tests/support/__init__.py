"""Test support code (crash injection, bad inputs): used by tests/ and bench/, never installed."""
