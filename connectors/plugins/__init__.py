"""Built-in plugins; importing this package registers them."""
