"""mmext.engine: hooks, runner loops and optimisation components."""
