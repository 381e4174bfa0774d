"""Tests of cnnkit.data."""
