"""`live-style serve`: the browser studio (a small aiohttp + aiortc server and its static page)."""
