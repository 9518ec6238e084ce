#!/usr/bin/env bash
# The Flask quickstart (app.py) end to end against a real gatehouse: see ../python.sh.
exec "$(dirname "$0")/../python.sh" flask "$@"
