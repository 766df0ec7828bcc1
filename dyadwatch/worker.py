"""Imported once by the process pool's fork server: the heavy modules and the gazetteer are
loaded there, so each worker forked from it starts in milliseconds instead of seconds."""

from dyadwatch import pipeline  # noqa: F401  (trafilatura, lxml, the matcher)
from dyadwatch.actors import load_gazetteer

load_gazetteer()
