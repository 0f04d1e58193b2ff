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
# Sized to nginx in front (deploy/nginx.conf), which gives up on a request after PROXY_TIMEOUT:
# - a request's database waits end well before that (DB_LOCK_TIMEOUT_MS 3 s per row lock,
#   DB_STATEMENT_TIMEOUT_MS 15 s per statement, then 503 + Retry-After with nothing changed), so
#   threads are not held by one locked row and nothing commits after the shopper saw a failure;
# - a worker silent for as long as nginx waits is stuck: it is restarted;
# - on a restart, requests in flight get as long to finish as nginx would wait for them;
# - idle keep-alive connections from nginx outlive nginx's own idle timeout for them (4 s), so
#   nginx never sends a request on a connection gunicorn has just closed (a 502).
PROXY_TIMEOUT = 30
timeout = PROXY_TIMEOUT
graceful_timeout = PROXY_TIMEOUT
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
