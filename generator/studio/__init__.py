"""`gen studio`: the library in a browser page, to train, generate, look and listen.

A small Starlette app (`app.py`) over the same functions the command line calls: `info` lists
the runs, `outputs.write_samples` writes samples, `audio` renders them, and `gen train` runs in
a process of its own (`training.py`). Generation runs in a bounded queue of worker threads
(`jobs.py`) with the loaded models kept between requests. Everything the page makes is kept on
disk beside its run (`places.py`), so nothing is lost when the page closes. The page itself is
plain HTML, CSS and JavaScript in `static/`, fetched from nowhere else.
"""
