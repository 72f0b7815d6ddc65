"""Playwright fixtures (Chromium at tablet size) — see tests/test_browser_*.py."""
