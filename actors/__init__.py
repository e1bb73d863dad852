"""Ray actors: thin shells (dispatcher, session hosts, analysis pools, reporter, ingress) over ``engine/``."""
