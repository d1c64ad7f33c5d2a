"""sesd's tests."""
