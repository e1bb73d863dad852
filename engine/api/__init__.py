"""The gRPC front door: ``callengine.v1`` over storage and the Dispatcher.

- ``server.serve_in_process``: start the server (health, reflection, limits) in this loop
- ``servicer``: the RPCs; ``gate``: auth, overload bound, deadline, error seam (``status``)
- ``auth``: JWT bearer tokens; ``validation``: every request field; ``convert``: records → messages
- ``ports``: what the door needs from the runtime (``actors/ingress.py`` has the Ray side)
- ``protogen``: ``make proto``; generated stubs in ``gen/``; ``bench``: DispatchCall throughput
"""
