"""The front page of a run (``index.html``): what a person reads first.

:mod:`.report` builds the page from the run folder (status, the lists and their control groups,
the backtest, KPIs, campaign results, models); :mod:`.page_text` holds its sentences in English
and Chinese. Reads the run folder through :class:`src.layout.RunLayout`; the runner writes the
page at the end of a run.
"""
