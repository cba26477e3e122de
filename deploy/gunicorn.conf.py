"""gunicorn for relaydash: gthread workers, one per core, behind nginx (deploy/nginx/).

    gunicorn -c deploy/gunicorn.conf.py      # from the checkout, with its .venv

Every worker is the whole app: nothing a request needs lives in one worker's memory (README
"Several workers and machines"), so any count works. RELAYDASH_BIND, RELAYDASH_WORKERS and
RELAYDASH_THREADS override the defaults below.
"""

import os

wsgi_app = "app:create_app()"
bind = os.environ.get("RELAYDASH_BIND", "127.0.0.1:8000")
worker_class = "gthread"
# gthread: a worker per core, and threads for the waits (relays answer in 0.2–10 s, playground
# streams run for minutes: each open stream holds one thread).
workers = int(os.environ.get("RELAYDASH_WORKERS") or os.cpu_count() or 1)
threads = int(os.environ.get("RELAYDASH_THREADS") or 32)
# The arbiter's heartbeat, not a request limit: a gthread worker stays alive during long streams.
timeout = 30
# On stop or reload, open streams get this long to finish (the playground's stop is not lost).
graceful_timeout = 30
keepalive = 5  # nginx keeps connections to us open (its upstream keepalive)
# Not preloaded: each worker opens its own database pool after the fork.
preload_app = False
accesslog = "-"  # journald
# The path without its query string (a playground stream URL carries a one-time key); request
# bodies (keys, prompts) are never logged.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
proc_name = "relaydash"
