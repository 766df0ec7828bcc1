"""dyadwatch: watch how pairs of international actors appear in the news.

The domain logic (config, feeds, fetching, extraction, actor detection, topic scoring,
alerts) lives in this package and imports nothing from Prefect; ``flows/`` composes it
into Prefect flows and ``storage/`` holds the corpus.
"""

__version__ = "0.1.0"
