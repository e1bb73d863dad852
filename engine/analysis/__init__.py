"""Post-call analysis: quality assessment, fraud checks, reward percentages, weekly reports.

Pure logic (no Ray, no database): ``context`` (profile validation, completeness),
``signals`` + ``scoring`` + ``assessment``, ``fraud`` + ``minhash``, ``report`` +
``forecast``, and the Swedish page ``render`` + ``charts`` + ``sv`` (number typography);
every threshold in ``config.AnalysisConfig``. ``llm`` wraps the openai SDK
(structured outputs, retries). ``service`` loads, analyses and stores — the functions
the Ray pools, the reporter and the API call; ``pool`` is the bounded async pool
those Ray pools run on. See docs/analysis.md.
"""
