"""I/O edge: aiohttp transport, auth schemes, stream framers, model instances and clients."""
