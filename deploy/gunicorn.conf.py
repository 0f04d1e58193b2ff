"""gunicorn settings for the Docker image (`gunicorn config.wsgi:application -c deploy/gunicorn.conf.py`).

nginx sits in front (buffering slow clients), so gthread workers with a few threads are enough.
WEB_CONCURRENCY sets the number of worker processes; GUNICORN_THREADS the threads of each.
"""

import multiprocessing
import os

bind = "0.0.0.0:8000"
workers = int(os.environ.get("WEB_CONCURRENCY") or min(multiprocessing.cpu_count() * 2 + 1, 9))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS") or 4)
timeout = 60
graceful_timeout = 30
keepalive = 5
# recycle workers now and then so a slow leak never takes the site down
max_requests = 2000
max_requests_jitter = 200
# only nginx reaches this port (the compose network), so trust its X-Forwarded-* headers
forwarded_allow_ips = "*"
worker_tmp_dir = "/dev/shm"
accesslog = "-"
errorlog = "-"
loglevel = "info"
