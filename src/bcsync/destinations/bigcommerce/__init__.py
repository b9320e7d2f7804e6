"""BigCommerce as a destination: the HTTP client, the rate governor and the object types.

Import names from the module that owns them (``client``, ``ratelimit``, ``calls``, …).
"""
