"""The reproduction of the paper's claims (`python -m bandsplit_audiocraft.reproduce`, whose docstring says what it
does): `plan` (the compared models, budgets and their `dora run` overrides), `claims` (each claim tested on a
report's per-clip values), `document` (REPRODUCTION.md from the run's JSON)."""
