"""The emulated customer endpoints: customers, attributes and their values, form fields."""
