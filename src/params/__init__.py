"""Job parameters: the typed schema of a job file and the functions that read it.

``from src.params import JobParams, load_params`` is the front door; the sections live in
:mod:`src.params.schema`, reading/writing in :mod:`src.params.files`.
"""

from src.params.files import ParamsError, dump_params, flatten, load_params, params_path
from src.params.schema import JobParams

__all__ = ["JobParams", "ParamsError", "dump_params", "flatten", "load_params", "params_path"]
