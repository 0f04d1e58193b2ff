"""The Redis broker's transport, as kombu's own but for one thing: kombu makes a new redis-py client
object for every message it publishes (and every queue it sizes or purges), and building one
(its table of response callbacks) cost more CPU than the LPUSH it sends. A channel here keeps one
client per connection pool and hands it out again: a redis-py client holds no connection of its
own (each command takes one from the pool and gives it back), so sharing it is what the pool is for.
A channel whose pool is replaced (after a disconnect kombu drops it) makes a new client for the new
pool. The consumer's client (BRPOP, the asynchronous pool) is kombu's, unchanged.

settings uses it when the broker is Redis (CELERY_BROKER_TRANSPORT); the filesystem broker of
`make run` without Redis is kombu's own."""

from kombu.transport import redis


class Channel(redis.Channel):
    _shared_client = None  # (pool, client)

    def _create_client(self, asynchronous=False):
        if asynchronous:
            return super()._create_client(asynchronous=True)
        pool = self.pool
        shared = self._shared_client
        if shared is None or shared[0] is not pool:
            shared = self._shared_client = (pool, super()._create_client())
        return shared[1]


class Transport(redis.Transport):
    Channel = Channel
