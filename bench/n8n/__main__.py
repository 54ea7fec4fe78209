"""`python -m bench.n8n`: install n8n for the side-by-side benchmark (see bench/n8n/__init__.py)."""

from bench.n8n import VERSION, home, install

install(home())
print(f"n8n {VERSION} is installed in {home()}")
