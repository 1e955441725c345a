"""Software-defined assets, one module per domain entity."""
