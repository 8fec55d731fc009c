# udfa host package (CPython): data preparation, board I/O, training drivers, evaluation, plots.
