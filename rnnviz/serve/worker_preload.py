"""Imported last in the worker's forkserver, after ``rnnviz.serve.tasks`` (and so TensorFlow).

Freezing the objects that exist now (TensorFlow's ~350,000) out of the garbage collector keeps
each forked worker's collections from writing to their pages, which would copy them into every
worker process: about 45 MB less of each worker's own memory, measured.
"""

import gc

gc.freeze()
