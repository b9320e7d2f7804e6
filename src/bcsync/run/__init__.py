"""One sync run, from model to HTTP call: preflight, plan (``planner/`` over ``snapshot/``),
send, checkpoint, result."""
