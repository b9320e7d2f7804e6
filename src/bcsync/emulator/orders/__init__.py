"""The emulated order endpoints: orders, their products, statuses and money values."""
