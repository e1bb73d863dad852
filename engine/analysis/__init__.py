"""Post-call analysis: quality assessment, fraud checks, rewards, weekly reports.

Pure logic (no Ray, no database): ``context`` (profile validation, completeness),
``signals`` + ``scoring`` + ``assessment``, ``fraud`` + ``minhash``, ``report`` +
``render``; every threshold in ``config.AnalysisConfig``. ``llm`` wraps the openai SDK
(structured outputs, retries). ``service`` loads, analyses and stores — the functions
the Ray pools, the reporter and the API call; ``pool`` is the bounded async pool
those Ray pools run on. See docs/analysis.md.
"""
