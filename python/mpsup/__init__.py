"""mpsup: multiprocessing.Pool's API on a supervised mpsup pool.

    import mpsup
    from tasks import sqr            # module-level, importable by the workers

    with mpsup.Pool("py") as p:      # MPSUP_ADDRESS / MPSUP_AUTHKEY_FILE,
        print(p.map(sqr, range(10))) # or address=, authkey=, or config=

The pool "py" is a stream pool whose workers run the runner of this
package, e.g. `command = python3 -m mpsup.worker --allow tasks`. Functions
travel by module and name; arguments and results as JSON (see
mpsup.codec for what changes on the way), the items and results of map's
chunks as packed columns where they are all ints or floats (mpsup.column).
Standard library only.

Names: Pool, Executor, Client, Error, RemoteError, AuthenticationError,
AsyncResult, MapResult, IMapIterator, TimeoutError (multiprocessing's).
The worker side is mpsup.worker, imported on its own.
"""
from multiprocessing import TimeoutError

from .connection import AuthenticationError, Client, Error, RemoteError
from .executor import Executor
from .pool import (DEFAULT_WINDOW, ApplyResult, AsyncResult, IMapIterator,
                   MapResult, Pool)

__version__ = "0.1.0"

__all__ = ["Pool", "Executor", "Client", "Error", "RemoteError",
           "AuthenticationError", "AsyncResult", "ApplyResult", "MapResult",
           "IMapIterator", "TimeoutError", "DEFAULT_WINDOW"]
