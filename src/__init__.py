"""The customer-analytics lab: data -> features -> models -> decisioning / loop -> serving,
plots, export -> runner -> cli (tests/test_architecture.py).

Former module paths of moved modules keep importing (:mod:`src.moved`), so models saved
before a move still load.
"""

from src.moved import install

install()
